//go:build !unix

package main

func augCPUSeconds() float64 { return 0 }
