//go:build !unix

package main

func processCPUSeconds() float64 { return 0 }
