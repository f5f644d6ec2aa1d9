// Package dist trains data-parallel across processes and machines on
// libtorch's own distributed engine, c10d: the Gloo process group on CPU
// tensors and NCCL on CUDA tensors, with a TCPStore or FileStore
// rendezvous, compiled into sslpipe's shim (internal/shim's distCpp).
//
// # Launching
//
// FromEnv reads the environment the usual launchers set: torchrun and
// Kubeflow's PyTorchJob (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT, and torchrun's TORCHELASTIC_USE_AGENT_STORE),
// and Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first host of
// SLURM_JOB_NODELIST); Env.Options turns it into Init's options.
// LaunchLocal starts N processes of one command on this machine with the
// torchrun variables set, forwards SIGINT and SIGTERM to them, and fails
// as a whole when one fails.
//
// # Collectives and DDP
//
// Init joins the process group and returns a Group: AllReduce, Broadcast,
// AllGather, ReduceScatter and Barrier on tensor lists, called in the same
// order on every rank (c10d's rule). The data-parallel pieces a training
// loop needs, with PyTorch DDP's semantics, are BroadcastParams (rank 0's
// parameters and buffers to every rank at the start), Reducer (gradients
// averaged over the ranks with bucketed, flattened all-reduces in a fixed
// order: a first bucket of 1 MiB, then 25 MiB buckets) and GatherWithGrad
// (all_gather whose backward pass sends each rank the gradient of every
// rank's loss with respect to its own slice, for contrastive losses that
// take negatives from every rank).
//
// # Failures
//
// Nothing hangs forever and nothing aborts: every collective, the store
// and the rendezvous have a timeout (Options.Timeout, 60 s by default), and
// C++ exceptions come back as errors. Each rank's heartbeat counter in the
// store tells, after a failed collective, which ranks died: the *Error
// names them (errors.Is(err, ErrLost)). A failed collective leaves the
// group unusable (c10d's groups cannot recover); the run exits, and a
// launcher restarts it from its last checkpoint. On NCCL a dead peer shows
// as a timeout of c10d's own watchdog, which ends the process.
//
// # Security
//
// c10d's store and the Gloo and NCCL traffic are not authenticated or
// encrypted: anyone who can reach the store's port can join the group or
// read and corrupt tensors, as with PyTorch. Run multi-machine jobs on a
// private network. A single-machine run keeps everything on the loopback
// interface: LaunchLocal rendezvouses through a FileStore in a private
// (0700) temporary folder and Gloo listens on 127.0.0.1. Across machines
// the TCPStore listens on MASTER_ADDR's address where the libtorch can be
// told so (2.1 and later); libtorch 1.13's TCPStore listens on every
// interface of rank 0's machine.
package dist
