package train

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/internal/shim"
)

// LibtorchInfo describes the libtorch this process runs on.
type LibtorchInfo struct {
	Version       string   `json:"libtorch_version"`
	Path          string   `json:"libtorch_path"`   // folder of the libtorch_cpu.so actually loaded
	Source        string   `json:"libtorch_source"` // LIBTORCH, python3 or system (when the shim was built)
	ShimPath      string   `json:"shim_path"`       // the loaded libsslpipe_tch.so
	StubbedOps    int      `json:"stubbed_ops"`     // gotch ops this libtorch lacks
	CUDAAvailable bool     `json:"cuda_available"`
	CUDADevices   []string `json:"cuda_devices"` // names, one per device
	CuDNN         bool     `json:"cudnn_available"`
	CuDNNVersion  int64    `json:"cudnn_version"`        // -1 when unavailable
	BLAS          []string `json:"blas"`                 // BLAS/LAPACK libraries mapped into the process
	BLASBuild     string   `json:"blas_build,omitempty"` // BLAS_INFO from libtorch's build config
	Threads       int      `json:"threads"`              // libtorch intra-op threads
	Parallel      string   `json:"parallel_backend,omitempty"`
}

// ErrNoShim is returned by Libtorch when the shim library is not mapped
// into the process (it should be, since this package links it).
var ErrNoShim = errors.New("train: libsslpipe_tch.so is not loaded")

// Libtorch reports the loaded libtorch: its version and location, CUDA
// devices, cuDNN and the BLAS in use. It reads /proc/self/maps to find the
// libraries really loaded (LD_LIBRARY_PATH may point at another build than
// the one this binary was linked against) and the shim's info.json.
func Libtorch() (*LibtorchInfo, error) {
	maps, err := mappedLibraries()
	if err != nil {
		return nil, err
	}
	info := &LibtorchInfo{CuDNNVersion: -1}
	for _, p := range maps {
		base := filepath.Base(p)
		switch {
		case base == shim.LibName:
			info.ShimPath = p
		case strings.HasPrefix(base, "libtorch_cpu.so"):
			info.Path = filepath.Dir(p)
		case strings.Contains(base, "blas") || strings.Contains(base, "lapack") || strings.Contains(base, "mkl_"):
			info.BLAS = append(info.BLAS, p)
		}
	}
	if info.ShimPath == "" {
		return nil, ErrNoShim
	}
	if si, err := shim.ReadInfo(filepath.Dir(info.ShimPath)); err == nil {
		info.Version = si.LibtorchVersion
		info.Source = si.LibtorchSource
		info.StubbedOps = len(si.StubbedOps)
		if info.Path == "" {
			info.Path = si.LibtorchPath
		}
	} else {
		return nil, fmt.Errorf("train: shim %s has no readable info.json: %w", info.ShimPath, err)
	}
	info.CUDAAvailable = gotch.CUDA.IsAvailable()
	if info.CUDAAvailable {
		n := int(gotch.CUDA.DeviceCount())
		for i := 0; i < n; i++ {
			name := libtch.SslpipeCudaDeviceName(i)
			if name == "" {
				name = fmt.Sprintf("cuda:%d", i)
			}
			info.CUDADevices = append(info.CUDADevices, name)
		}
		info.CuDNN = gotch.CUDA.CudnnIsAvailable()
		info.CuDNNVersion = libtch.SslpipeCudnnVersion()
	}
	if info.CUDADevices == nil {
		info.CUDADevices = []string{}
	}
	if m := blasInfoRE.FindStringSubmatch(libtch.SslpipeShowConfig()); m != nil {
		info.BLASBuild = m[1]
	}
	info.Threads = libtch.AtGetNumThreads()
	for _, line := range strings.Split(libtch.SslpipeParallelInfo(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ATen parallel backend:"); ok {
			info.Parallel = strings.TrimSpace(v)
		}
	}
	return info, nil
}

var blasInfoRE = regexp.MustCompile(`BLAS_INFO=([^,\s]+)`)

// BuildConfig returns libtorch's own description of its build
// (at::show_config()).
func BuildConfig() string { return libtch.SslpipeShowConfig() }

func mappedLibraries() ([]string, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.Contains(fields[5], ".so") {
			continue
		}
		p := fields[5]
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, sc.Err()
}

// ParseDevice turns "auto", "cpu", "cuda" or "cuda:N" into a device.
// "auto" is the first CUDA device when one is available, else the CPU.
func ParseDevice(s string) (gotch.Device, error) {
	switch s {
	case "", "auto":
		if gotch.CUDA.IsAvailable() {
			return gotch.CudaBuilder(0), nil
		}
		return gotch.CPU, nil
	case "cpu":
		return gotch.CPU, nil
	}
	rest, ok := strings.CutPrefix(s, "cuda")
	if !ok {
		return gotch.CPU, fmt.Errorf("train: unknown device %q (want auto, cpu, cuda or cuda:N)", s)
	}
	idx := 0
	if rest != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if err != nil || !strings.HasPrefix(rest, ":") || n < 0 {
			return gotch.CPU, fmt.Errorf("train: bad CUDA device %q (want cuda or cuda:N)", s)
		}
		idx = n
	}
	if !gotch.CUDA.IsAvailable() {
		return gotch.CPU, fmt.Errorf("train: device %q requested but CUDA is not available in this libtorch (%s)", s, "see 'sslpipe doctor'")
	}
	if cnt := int(gotch.CUDA.DeviceCount()); idx >= cnt {
		return gotch.CPU, fmt.Errorf("train: device %q requested but only %d CUDA device(s) exist", s, cnt)
	}
	return gotch.CudaBuilder(uint(idx)), nil
}

// DeviceName is the inverse of ParseDevice for a concrete device.
func DeviceName(d gotch.Device) string {
	if d.IsCuda() {
		return fmt.Sprintf("cuda:%d", d.Value)
	}
	return "cpu"
}

// SetNumThreads sets libtorch's intra-op threads and the thread pool of
// the OpenBLAS that Debian's libtorch calls for matrix products (libtorch
// does not size that pool: without this, OpenBLAS runs one thread per core
// under every process, spinning while it waits); n <= 0 means one per CPU
// core. libtorch here otherwise starts with a single thread.
func SetNumThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	libtch.AtSetNumThreads(n)
	blasThreads(n)
}

// BLASThreads is the size of OpenBLAS's thread pool, or -1 when the process
// has no OpenBLAS (a libtorch with MKL sizes MKL's threads itself).
func BLASThreads() int { return blasThreads(0) }

// ManualSeed seeds libtorch's CPU and CUDA generators (weight
// initialization, dropout, torch-side sampling).
func ManualSeed(seed int64) { libtch.AtManualSeed(seed) }
