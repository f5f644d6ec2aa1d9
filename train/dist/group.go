package dist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Backend names a c10d process group.
type Backend string

// The process groups: Gloo (CPU tensors; CUDA tensors too on CUDA builds)
// and NCCL (CUDA tensors).
const (
	Gloo Backend = "gloo"
	NCCL Backend = "nccl"
)

// DefaultTimeout bounds every collective, the store's operations and the
// rendezvous unless Options.Timeout says otherwise.
const DefaultTimeout = 60 * time.Second

var (
	// ErrUnavailable: the shim was built without this process group (no
	// Gloo headers, or no NCCL in this libtorch).
	ErrUnavailable = errors.New("dist: process group not available in this libtorch build")
	// ErrLost: a rank died (an *Error names it).
	ErrLost = errors.New("dist: lost a rank")
	// ErrClosed: the group was closed.
	ErrClosed = errors.New("dist: group closed")
)

// Options configure Init.
type Options struct {
	Backend Backend // Gloo when empty
	Rank    int     // this process's rank, 0 <= Rank < World
	World   int     // number of processes

	// The rendezvous store: a FileStore at StoreFile (a file on a file
	// system every rank sees, new for each run) when set, else the
	// TCPStore at StoreAddr:StorePort, which rank 0 hosts unless
	// AgentStore (torchrun's agent hosts it).
	StoreFile   string
	StoreAddr   string
	StorePort   int
	AgentStore  bool
	StorePrefix string // keys' prefix, "sslpipe/" when empty

	// Local says every rank runs on this machine: Gloo listens on
	// 127.0.0.1. Otherwise Gloo listens on GlooInterface (a network
	// interface's name, as GLOO_SOCKET_IFNAME), else on GlooHost, else on
	// the local address that routes to StoreAddr (a FileStore: this
	// host name's address).
	Local         bool
	GlooInterface string
	GlooHost      string
	GlooThreads   int // Gloo's worker threads; 0: libtorch's default (2)

	Device int // NCCL: the CUDA device (usually LOCAL_RANK)

	Timeout time.Duration // DefaultTimeout when 0
	// Heartbeat is how often each rank bumps its counter in the store
	// (Timeout/10, between 100 ms and 1 s, when 0); after a failed
	// collective a rank waits three periods to see which counters stopped.
	Heartbeat time.Duration

	Warn io.Writer // warnings (e.g. a store listening on every interface); nil discards
}

func (o *Options) defaults() error {
	if o.Backend == "" {
		o.Backend = Gloo
	}
	if o.Backend != Gloo && o.Backend != NCCL {
		return fmt.Errorf("dist: unknown backend %q (want gloo or nccl)", o.Backend)
	}
	if o.World < 1 || o.Rank < 0 || o.Rank >= o.World {
		return fmt.Errorf("dist: rank %d of world size %d", o.Rank, o.World)
	}
	if o.StoreFile == "" && (o.StoreAddr == "" || o.StorePort <= 0 || o.StorePort > 65535) {
		return fmt.Errorf("dist: no rendezvous store: set a store file or an address and port (MASTER_ADDR, MASTER_PORT), have %q:%d", o.StoreAddr, o.StorePort)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = min(max(o.Timeout/10, 100*time.Millisecond), time.Second)
	}
	if o.StorePrefix == "" {
		o.StorePrefix = "sslpipe/"
	}
	if o.Warn == nil {
		o.Warn = io.Discard
	}
	return nil
}

// Group is a joined process group. Its collectives must be called in the
// same order on every rank (c10d's rule), by one goroutine at a time.
// After a collective fails the group is unusable: every later call
// returns the same error. Close releases it.
type Group struct {
	rank, world int
	backend     Backend
	timeout     time.Duration
	heartbeat   time.Duration
	storeHost   int // the rank whose process hosts the store, or -1

	store unsafe.Pointer // *sslpipe_dist_store
	pg    unsafe.Pointer // *sslpipe_dist_group
	err   error          // the first failure
	dev   gotch.Device   // where SumFloat64's tensor lives (NCCL: the CUDA device)
	grads *gradPlan      // AverageGradients' buckets for the last layout

	stop chan struct{} // closes to end the heartbeat
	done chan struct{} // closed when the heartbeat has ended
	once sync.Once
}

// Rank is this process's rank.
func (g *Group) Rank() int { return g.rank }

// World is the number of ranks.
func (g *Group) World() int { return g.world }

// Backend is the process group's kind.
func (g *Group) Backend() Backend { return g.backend }

// Timeout bounds each collective.
func (g *Group) Timeout() time.Duration { return g.timeout }

// Available reports whether the shim has process group b.
func Available(b Backend) bool {
	m := lib.SslpipeDistBackends()
	switch b {
	case Gloo:
		return m&1 != 0
	case NCCL:
		return m&2 != 0
	}
	return false
}

// Init joins the process group described by opt: it opens the store,
// waits until every rank has joined, then builds the process group. The
// rendezvous lasts until ctx's deadline when it has one (ranks may start
// minutes apart on a cluster), else opt.Timeout, and ends early when ctx
// is canceled; its error names the ranks that did not join. The group's
// collectives and store operations then use opt.Timeout.
func Init(ctx context.Context, opt Options) (*Group, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	if !Available(opt.Backend) {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, opt.Backend)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dist: init: %w", err)
	}
	// The rendezvous waits for the slowest rank to start: until ctx's
	// deadline when it has one, else for opt.Timeout.
	timeout := opt.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, fmt.Errorf("dist: init: %w", context.DeadlineExceeded)
		}
	}
	g := &Group{rank: opt.Rank, world: opt.World, backend: opt.Backend, timeout: opt.Timeout, heartbeat: opt.Heartbeat, storeHost: -1, dev: gotch.CPU}
	if opt.Backend == NCCL {
		g.dev = gotch.CudaBuilder(uint(opt.Device))
	}
	if err := g.openStore(opt, timeout); err != nil {
		return nil, err
	}
	fail := func(err error) (*Group, error) {
		lib.SslpipeDistStoreFree(g.store)
		return nil, err
	}
	if err := g.join(ctx, timeout); err != nil {
		return fail(err)
	}
	var (
		h   unsafe.Pointer
		rc  int
		msg string
	)
	ms := opt.Timeout.Milliseconds()
	switch opt.Backend {
	case Gloo:
		host, err := glooHost(opt)
		if err != nil {
			return fail(err)
		}
		h, rc, msg = lib.SslpipeDistNewGloo(g.store, opt.Rank, opt.World, host, opt.GlooInterface, ms, opt.GlooThreads)
	case NCCL:
		h, rc, msg = lib.SslpipeDistNewNCCL(g.store, opt.Rank, opt.World, opt.Device, ms)
	}
	switch rc {
	case 1:
	case 0:
		return fail(fmt.Errorf("%w: %s", ErrUnavailable, opt.Backend))
	default:
		return fail(fmt.Errorf("dist: rank %d: creating the %s process group: %s", opt.Rank, opt.Backend, msg))
	}
	g.pg = h
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.beat()
	return g, nil
}

// openStore opens the FileStore or TCPStore; rank 0 hosts a TCPStore
// unless a launcher agent does.
func (g *Group) openStore(opt Options, timeout time.Duration) error {
	ms := timeout.Milliseconds()
	var (
		h   unsafe.Pointer
		rc  int
		msg string
	)
	switch {
	case opt.StoreFile != "":
		h, rc, msg = lib.SslpipeDistStoreFile(opt.StoreFile, opt.World, ms, opt.StorePrefix)
	case opt.Rank == 0 && !opt.AgentStore:
		g.storeHost = 0
		fd := -1
		if lib.SslpipeDistStoreFdSupported() {
			var err error
			if fd, err = listenFD(opt.StoreAddr, opt.StorePort); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(opt.Warn, "dist: this libtorch's TCPStore listens on every interface of this machine (port %d), not only on %s: keep the port off untrusted networks\n", opt.StorePort, opt.StoreAddr)
		}
		h, rc, msg = lib.SslpipeDistStoreTCP(opt.StoreAddr, opt.StorePort, true, opt.World, fd, ms, opt.StorePrefix)
	default:
		if !opt.AgentStore {
			g.storeHost = 0
		}
		h, rc, msg = lib.SslpipeDistStoreTCP(opt.StoreAddr, opt.StorePort, false, opt.World, -1, ms, opt.StorePrefix)
	}
	switch rc {
	case 1:
		g.store = h
		return nil
	case 0:
		return fmt.Errorf("%w: no c10d store", ErrUnavailable)
	}
	where := opt.StoreFile
	if where == "" {
		where = net.JoinHostPort(opt.StoreAddr, strconv.Itoa(opt.StorePort))
	}
	return fmt.Errorf("dist: rank %d: store %s: %s", opt.Rank, where, msg)
}

// listenFD binds the TCPStore's port on addr's address and returns a
// descriptor the store takes over.
func listenFD(addr string, port int) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return -1, fmt.Errorf("dist: store: %w", err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return -1, fmt.Errorf("dist: store: %w", err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("dist: store: %w", err)
	}
	return fd, nil
}

// glooHost is the address Gloo listens on.
func glooHost(opt Options) (string, error) {
	switch {
	case opt.GlooInterface != "":
		return "", nil
	case opt.GlooHost != "":
		return opt.GlooHost, nil
	case opt.Local:
		return "127.0.0.1", nil
	case opt.StoreFile == "":
		// The local address of the route to the store's host (UDP
		// "connect" sends nothing).
		c, err := net.Dial("udp", net.JoinHostPort(opt.StoreAddr, strconv.Itoa(opt.StorePort)))
		if err != nil {
			return "", fmt.Errorf("dist: no route to the store %s to choose Gloo's address (set GLOO_SOCKET_IFNAME): %w", opt.StoreAddr, err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("dist: choosing Gloo's address (set GLOO_SOCKET_IFNAME): %w", err)
	}
	return h, nil
}

// add is a store counter operation.
func (g *Group) add(key string, delta int64) (int64, error) {
	v, rc, msg := lib.SslpipeDistStoreAdd(g.store, key, delta)
	switch rc {
	case 1:
		return v, nil
	case 0:
		return 0, ErrUnavailable
	}
	return 0, errors.New(msg)
}

// join counts this rank in and waits for every rank.
func (g *Group) join(ctx context.Context, timeout time.Duration) error {
	if _, err := g.add("join/"+strconv.Itoa(g.rank), 1); err != nil {
		return fmt.Errorf("dist: rank %d: rendezvous: %v", g.rank, err)
	}
	if _, err := g.add("joined", 1); err != nil {
		return fmt.Errorf("dist: rank %d: rendezvous: %v", g.rank, err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := g.add("joined", 0)
		if err != nil {
			return fmt.Errorf("dist: rank %d: rendezvous: %v", g.rank, err)
		}
		if n >= int64(g.world) {
			return nil
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		var missing []int
		for r := range g.world {
			if v, err := g.add("join/"+strconv.Itoa(r), 0); err == nil && v == 0 {
				missing = append(missing, r)
			}
		}
		why := fmt.Sprintf("within %v", timeout)
		if ctx.Err() != nil {
			why = ctx.Err().Error()
		}
		return fmt.Errorf("dist: rank %d: rendezvous: %s did not join (%s)", g.rank, rankList(missing), why)
	}
}

// beat bumps this rank's heartbeat counter until Close.
func (g *Group) beat() {
	defer close(g.done)
	key := "hb/" + strconv.Itoa(g.rank)
	t := time.NewTicker(g.heartbeat)
	defer t.Stop()
	for {
		_, _ = g.add(key, 1) // a failing store shows in the diagnosis
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
	}
}

// Error is a failed collective.
type Error struct {
	Op   string // "allreduce", "broadcast", ...
	Rank int    // the rank reporting
	// Lost are the ranks found dead: their heartbeat stopped, or the store
	// their process hosts is unreachable. Empty when every rank seemed
	// alive (a timeout: ranks out of step, or a stuck rank).
	Lost   []int
	How    string // how Lost was found
	Detail string // c10d's message
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dist: %s on rank %d failed: ", e.Op, e.Rank)
	if len(e.Lost) > 0 {
		fmt.Fprintf(&b, "lost %s (%s)", rankList(e.Lost), e.How)
	} else {
		fmt.Fprintf(&b, "no rank found dead (%s)", e.How)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(firstLine(e.Detail))
	}
	return b.String()
}

// Is matches ErrLost when a rank was found dead.
func (e *Error) Is(target error) bool { return target == ErrLost && len(e.Lost) > 0 }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func rankList(rs []int) string {
	if len(rs) == 0 {
		return "no rank"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.Itoa(r)
	}
	if len(rs) == 1 {
		return "rank " + parts[0]
	}
	return "ranks " + strings.Join(parts, ", ")
}

// diagnose finds which ranks died after collective op failed with
// detail: the ranks whose heartbeat counter did not move during three
// heartbeat periods, or the store's host when the store is unreachable.
func (g *Group) diagnose(op, detail string) *Error {
	e := &Error{Op: op, Rank: g.rank, Detail: detail}
	read := func() ([]int64, error) {
		v := make([]int64, g.world)
		for r := range g.world {
			n, err := g.add("hb/"+strconv.Itoa(r), 0)
			if err != nil {
				return nil, err
			}
			v[r] = n
		}
		return v, nil
	}
	storeLost := func(err error) *Error {
		if g.storeHost >= 0 && g.storeHost != g.rank {
			e.Lost = []int{g.storeHost}
			e.How = "the store its process hosts is unreachable: " + firstLine(err.Error())
		} else {
			e.How = "the store is unreachable: " + firstLine(err.Error())
		}
		return e
	}
	before, err := read()
	if err != nil {
		return storeLost(err)
	}
	wait := 3 * g.heartbeat
	time.Sleep(wait)
	after, err := read()
	if err != nil {
		return storeLost(err)
	}
	for r := range g.world {
		if r != g.rank && after[r] == before[r] {
			e.Lost = append(e.Lost, r)
		}
	}
	e.How = fmt.Sprintf("no heartbeat for %v", wait)
	if len(e.Lost) == 0 {
		e.How = fmt.Sprintf("every rank's heartbeat is alive; timeout %v", g.timeout)
	}
	return e
}

// call runs one collective and turns its result into an error: local
// errors (bad arguments) leave the group usable; a failed collective
// breaks it and is diagnosed.
func (g *Group) call(op string, f func() (int, string)) error {
	if g.err != nil {
		return g.err
	}
	if g.pg == nil {
		return ErrClosed
	}
	rc, msg := f()
	switch rc {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("dist: %s: %w", op, ErrUnavailable)
	}
	if lib.SslpipeDistFailure(g.pg) == "" {
		return fmt.Errorf("dist: %s on rank %d: %s", op, g.rank, firstLine(msg))
	}
	g.err = g.diagnose(op, msg)
	return g.err
}

// Explain returns the diagnosis (an *Error) when err came from one of
// the group's collectives run inside autograd (GatherWithGrad's backward
// pass, run by op.Backward), else err unchanged.
func (g *Group) Explain(err error) error {
	if err == nil || g.pg == nil {
		return err
	}
	if g.err != nil {
		return g.err
	}
	msg := lib.SslpipeDistFailure(g.pg)
	if msg == "" {
		return err
	}
	g.err = g.diagnose("all_gather backward", msg)
	return g.err
}

// Err is the failure that broke the group, or nil.
func (g *Group) Err() error { return g.err }

// Close stops the heartbeat and releases the process group and the store
// (rank 0's process stops serving a TCPStore it hosts: close it last).
func (g *Group) Close() error {
	g.once.Do(func() {
		close(g.stop)
		<-g.done
		lib.SslpipeDistFree(g.pg)
		lib.SslpipeDistStoreFree(g.store)
		g.pg, g.store = nil, nil
	})
	return nil
}

// ReduceOp is a reduction.
type ReduceOp int

// The reductions: the sum over the ranks, or that sum divided by the world
// size (floating tensors).
const (
	Sum ReduceOp = iota
	Avg
)

// AllReduce replaces each tensor by its reduction over the ranks (every
// rank's tensor i has the same shape and dtype). The tensors' collectives
// run concurrently.
func (g *Group) AllReduce(ts []op.Tensor, r ReduceOp) error {
	return g.call("allreduce", func() (int, string) { return lib.SslpipeDistAllReduce(g.pg, ts, r == Avg) })
}

// AllGather returns every rank's x (the same shape and dtype on every
// rank), indexed by rank, as new tensors the caller frees (op.Free).
func (g *Group) AllGather(x op.Tensor) ([]op.Tensor, error) {
	outs := make([]op.Tensor, g.world)
	err := g.call("allgather", func() (int, string) { return lib.SslpipeDistAllGather(g.pg, x, outs) })
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// ReduceScatter sets out to the reduction over the ranks of each rank's
// ins[Rank()] (ins holds World() tensors shaped like out).
func (g *Group) ReduceScatter(out op.Tensor, ins []op.Tensor, r ReduceOp) error {
	if len(ins) != g.world {
		return fmt.Errorf("dist: reduce_scatter of %d inputs in a world of %d", len(ins), g.world)
	}
	return g.call("reduce_scatter", func() (int, string) { return lib.SslpipeDistReduceScatter(g.pg, out, ins, r == Avg) })
}

// Barrier returns once every rank has called it.
func (g *Group) Barrier() error {
	return g.call("barrier", func() (int, string) { return lib.SslpipeDistBarrier(g.pg) })
}

// GatherWithGrad returns every rank's x concatenated along dim 0 (rank
// order; x has the same shape on every rank), held by tp, with a gradient:
// in the backward pass the incoming gradient is summed over the ranks and
// x receives this rank's slice (solo-learn's GatherLayer). So x's gradient
// on rank r is the gradient of the sum of every rank's loss with respect
// to x_r, and after Reducer's averaging the parameters' gradient is that
// of the mean of the ranks' losses — a 1-process run's loss over the whole
// batch when each rank's loss averages its own anchors. Every rank must
// run the backward pass (it is a collective). Errors are raised as
// libtorch errors (op.Catch recovers them; Explain diagnoses one from the
// backward pass).
func (g *Group) GatherWithGrad(tp *op.Tape, x op.Tensor) op.Tensor {
	var out op.Tensor
	if err := g.call("all_gather", func() (int, string) { return lib.SslpipeDistGatherGrad(g.pg, x, &out) }); err != nil {
		op.Fail(err)
	}
	return tp.Own(out)
}

// AllReduceMean replaces every tensor by its mean over the ranks, in place
// (train.Collective: a DINO center, batch statistics).
func (g *Group) AllReduceMean(ts []op.Tensor) error { return g.AllReduce(ts, Avg) }
