package dist

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Env is a process's place in a distributed launch, as its launcher
// describes it in the environment.
type Env struct {
	Launcher   string // "torchrun" (torchrun, Kubeflow's PyTorchJob, LaunchLocal) or "slurm"
	Rank       int    // global rank
	World      int    // number of processes
	LocalRank  int    // rank on this machine
	LocalWorld int    // processes on this machine
	MasterAddr string // the store's host
	MasterPort int    // the store's port
	// StoreFile is a FileStore path (SSLPIPE_DIST_STORE_FILE, set by
	// LaunchLocal); it takes precedence over MasterAddr:MasterPort.
	StoreFile string
	// AgentStore: torchrun's agent hosts the TCPStore
	// (TORCHELASTIC_USE_AGENT_STORE=True), rank 0 connects as a client.
	AgentStore    bool
	RestartCount  int    // TORCHELASTIC_RESTART_COUNT: keys of each restart are kept apart
	GlooInterface string // GLOO_SOCKET_IFNAME
}

// The environment variables LaunchLocal sets beside torchrun's.
const (
	EnvStoreFile = "SSLPIPE_DIST_STORE_FILE"
)

// DefaultPort is the store's port when neither MASTER_PORT nor a Slurm
// job id says otherwise (PyTorch's default).
const DefaultPort = 29500

// FromEnv reads the launch environment through getenv (os.Getenv): the
// torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT; Kubeflow's PyTorchJob sets the same) when RANK
// and WORLD_SIZE are set, else Slurm's (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the tasks on this node, the first host of
// SLURM_JOB_NODELIST or SLURM_NODELIST; MASTER_ADDR and MASTER_PORT
// override the host and the port, which otherwise is 20000 + the job id
// mod 10000). ok is false, with no error, when neither launcher set a
// rank: a single-process run.
func FromEnv(getenv func(string) string) (e Env, ok bool, err error) {
	num := func(name string, def int) (int, error) {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			return def, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("dist: %s=%q is not a non-negative integer", name, s)
		}
		return v, nil
	}
	var errs []error
	get := func(name string, def int) int {
		v, err := num(name, def)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	e.StoreFile = getenv(EnvStoreFile)
	e.AgentStore = strings.EqualFold(strings.TrimSpace(getenv("TORCHELASTIC_USE_AGENT_STORE")), "true")
	e.RestartCount = get("TORCHELASTIC_RESTART_COUNT", 0)
	e.GlooInterface = strings.TrimSpace(getenv("GLOO_SOCKET_IFNAME"))
	switch {
	case getenv("RANK") != "" && getenv("WORLD_SIZE") != "":
		e.Launcher = "torchrun"
		e.Rank = get("RANK", 0)
		e.World = get("WORLD_SIZE", 1)
		e.LocalRank = get("LOCAL_RANK", 0)
		e.LocalWorld = get("LOCAL_WORLD_SIZE", 1)
		e.MasterAddr = strings.TrimSpace(getenv("MASTER_ADDR"))
		e.MasterPort = get("MASTER_PORT", DefaultPort)
	case getenv("SLURM_PROCID") != "" && getenv("SLURM_NTASKS") != "":
		e.Launcher = "slurm"
		e.Rank = get("SLURM_PROCID", 0)
		e.World = get("SLURM_NTASKS", 1)
		e.LocalRank = get("SLURM_LOCALID", 0)
		e.LocalWorld = slurmLocalWorld(getenv, &errs)
		e.MasterAddr = strings.TrimSpace(getenv("MASTER_ADDR"))
		if e.MasterAddr == "" {
			list := getenv("SLURM_JOB_NODELIST")
			if list == "" {
				list = getenv("SLURM_NODELIST")
			}
			host, err := FirstHost(list)
			if err != nil {
				errs = append(errs, fmt.Errorf("dist: SLURM_JOB_NODELIST: %w", err))
			}
			e.MasterAddr = host
		}
		port := DefaultPort
		if id, err := num("SLURM_JOB_ID", -1); err == nil && id >= 0 {
			port = 20000 + id%10000
		}
		e.MasterPort = get("MASTER_PORT", port)
	default:
		if err := errors.Join(errs...); err != nil {
			return Env{}, false, err
		}
		return Env{}, false, nil
	}
	if err := errors.Join(errs...); err != nil {
		return Env{}, false, err
	}
	switch {
	case e.World < 1:
		return Env{}, false, fmt.Errorf("dist: %s world size %d", e.Launcher, e.World)
	case e.Rank >= e.World:
		return Env{}, false, fmt.Errorf("dist: %s rank %d of world size %d", e.Launcher, e.Rank, e.World)
	case e.LocalWorld < 1 || e.LocalRank >= e.LocalWorld:
		return Env{}, false, fmt.Errorf("dist: %s local rank %d of %d on this machine", e.Launcher, e.LocalRank, e.LocalWorld)
	case e.StoreFile == "" && e.MasterAddr == "" && e.World > 1:
		return Env{}, false, fmt.Errorf("dist: %s rank %d of %d: no MASTER_ADDR", e.Launcher, e.Rank, e.World)
	case e.MasterPort < 1 || e.MasterPort > 65535:
		return Env{}, false, fmt.Errorf("dist: MASTER_PORT %d out of range", e.MasterPort)
	}
	if e.MasterAddr == "" {
		e.MasterAddr = "127.0.0.1" // a world of one
	}
	return e, true, nil
}

// slurmLocalWorld is the number of tasks on this node: SLURM_NTASKS_PER_NODE
// when it is one number, else this node's entry (SLURM_NODEID) of
// SLURM_STEP_TASKS_PER_NODE or SLURM_TASKS_PER_NODE ("2(x3),1").
func slurmLocalWorld(getenv func(string) string, errs *[]error) int {
	if v, err := strconv.Atoi(strings.TrimSpace(getenv("SLURM_NTASKS_PER_NODE"))); err == nil && v > 0 {
		return v
	}
	node := 0
	if s := strings.TrimSpace(getenv("SLURM_NODEID")); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			*errs = append(*errs, fmt.Errorf("dist: SLURM_NODEID=%q is not a non-negative integer", s))
			return 1
		}
		node = v
	}
	for _, name := range []string{"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"} {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			continue
		}
		n, err := tasksOnNode(s, node)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("dist: %s: %w", name, err))
			return 1
		}
		return n
	}
	return 1
}

// tasksOnNode reads node's count from Slurm's compressed tasks-per-node
// list, e.g. "2(x3),1": nodes 0-2 run 2 tasks, node 3 runs 1.
func tasksOnNode(list string, node int) (int, error) {
	for _, item := range strings.Split(list, ",") {
		count, rep := item, "1"
		if i := strings.IndexByte(item, '('); i >= 0 {
			if !strings.HasSuffix(item, ")") || !strings.HasPrefix(item[i+1:], "x") {
				return 0, fmt.Errorf("bad entry %q", item)
			}
			count, rep = item[:i], item[i+2:len(item)-1]
		}
		c, err1 := strconv.Atoi(count)
		r, err2 := strconv.Atoi(rep)
		if err1 != nil || err2 != nil || c < 1 || r < 1 {
			return 0, fmt.Errorf("bad entry %q", item)
		}
		if node < r {
			return c, nil
		}
		node -= r
	}
	return 0, fmt.Errorf("no entry for node %d in %q", node, list)
}

// Options returns Init's options for this launch: the FileStore when
// set, else the TCPStore at MASTER_ADDR:MASTER_PORT (hosted by rank 0, or
// by torchrun's agent); Gloo on the loopback interface when every rank runs
// on this machine or MASTER_ADDR is a loopback address.
func (e Env) Options(backend Backend, timeout time.Duration) Options {
	o := Options{
		Backend:       backend,
		Rank:          e.Rank,
		World:         e.World,
		StoreFile:     e.StoreFile,
		StoreAddr:     e.MasterAddr,
		StorePort:     e.MasterPort,
		AgentStore:    e.AgentStore,
		GlooInterface: e.GlooInterface,
		Device:        e.LocalRank,
		Timeout:       timeout,
		Local:         e.World == e.LocalWorld || isLoopback(e.MasterAddr),
	}
	if e.AgentStore {
		// torchrun's own workers use "/worker/attempt_N" on the agent's store.
		o.StorePrefix = fmt.Sprintf("/worker/attempt_%d/sslpipe/", e.RestartCount)
	} else if e.RestartCount > 0 {
		o.StorePrefix = fmt.Sprintf("sslpipe/attempt_%d/", e.RestartCount)
	}
	return o
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxHosts bounds ExpandNodeList (a node list names at most this many
// hosts).
const maxHosts = 1 << 16

// ExpandNodeList expands a Slurm host list: "node[03-05,7],login1" is
// node03, node04, node05, node7, login1 (zero padding kept, several
// bracket groups in one name multiply out).
func ExpandNodeList(list string) ([]string, error) {
	var hosts []string
	for _, item := range splitTop(list) {
		if item == "" {
			continue
		}
		names, err := expandName(item, maxHosts-len(hosts))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", list, err)
		}
		hosts = append(hosts, names...)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("empty host list %q", list)
	}
	return hosts, nil
}

// FirstHost is the first host of a Slurm host list (without expanding
// the rest).
func FirstHost(list string) (string, error) {
	for _, item := range splitTop(list) {
		if item == "" {
			continue
		}
		names, err := expandName(item, 1)
		if len(names) == 0 {
			return "", err
		}
		if err != nil && err != errFull {
			return "", err
		}
		return names[0], nil
	}
	return "", fmt.Errorf("empty host list %q", list)
}

// splitTop splits at the commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// expandName expands one host pattern, returning at most limit names (an
// error, with the names so far, when it would make more).
func expandName(item string, limit int) ([]string, error) {
	open := strings.IndexByte(item, '[')
	if open < 0 {
		if strings.ContainsAny(item, "]") {
			return nil, fmt.Errorf("unbalanced bracket in %q", item)
		}
		if limit <= 0 {
			return nil, errFull
		}
		return []string{item}, nil
	}
	end := strings.IndexByte(item[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("unbalanced bracket in %q", item)
	}
	end += open
	prefix, ranges, rest := item[:open], item[open+1:end], item[end+1:]
	if strings.ContainsAny(prefix, "]") || strings.ContainsAny(ranges, "[") {
		return nil, fmt.Errorf("unbalanced bracket in %q", item)
	}
	// The rest does not depend on this group's values: expand it once.
	tails, err := expandName(rest, limit)
	if err != nil && err != errFull {
		return nil, err
	}
	var out []string
	for _, r := range strings.Split(ranges, ",") {
		lo, hi, found := strings.Cut(r, "-")
		if !found {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if lo == "" || hi == "" || err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("bad range %q in %q", r, item)
		}
		for v := a; v <= b; v++ {
			num := strconv.Itoa(v)
			if len(num) < len(lo) {
				num = strings.Repeat("0", len(lo)-len(num)) + num
			}
			for _, t := range tails {
				if len(out) >= limit {
					return out, errFull
				}
				out = append(out, prefix+num+t)
			}
		}
	}
	return out, err
}

// errFull stops an expansion at its limit.
var errFull = fmt.Errorf("host list names more than %d hosts", maxHosts)
