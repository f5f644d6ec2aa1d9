// Package eval measures how good frozen representations are: a weighted
// kNN classifier on L2-normalized features, a linear probe (multinomial
// logistic regression on standardized features with an L2 sweep on a
// validation split), accuracy and per-class accuracy, and the baselines
// the probes are compared with (raw pixels, mean-pooled frames such as
// mean MFCC, tf-idf bag of words).
//
// Features are a *Matrix: N rows of D float32 values. Functions never
// retain or modify their input matrices unless they say so; they are safe
// to call concurrently on shared inputs. Work is spread over
// Options.Workers goroutines (GOMAXPROCS by default), parallel over blocks
// of query rows; every goroutine is joined before a function returns.
//
// The inner products run on a 3x4 register-tiled micro-kernel, written in
// AVX2/FMA assembly on amd64 (selected at start-up when the CPU supports
// it; build tag purego forces the portable Go kernel).
package eval
