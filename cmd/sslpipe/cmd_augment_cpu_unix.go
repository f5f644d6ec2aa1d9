//go:build unix

package main

import "syscall"

// augCPUSeconds is the user+system CPU time of this process so far,
// so benchmarks on a shared machine can report work per CPU-second.
func augCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
