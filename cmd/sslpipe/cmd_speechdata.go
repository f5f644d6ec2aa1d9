package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sslpipe/sslpipe/speechdata"
)

func init() {
	register(&command{Name: "speechdata", Summary: "generate the espeak-ng speech sets (fortune sentences for pretraining, spoken digits with held-out voices)", Run: runSpeechdataCmd})
}

func runSpeechdataCmd(ctx context.Context, env *cmdEnv, args []string) error {
	o := speechdata.Defaults()
	var jsonOut bool
	fs := newFlagSet("speechdata", env.Stderr)
	fs.StringVar(&o.Out, "out", "", "output folder (required)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of every random choice (voices, speeds, pitches, sentences)")
	nv := len(speechdata.Voices())
	intVar(fs, &o.Pretrain, "pretrain", o.Pretrain, 0, 1<<24, "pretraining utterances (train split)")
	intVar(fs, &o.Valid, "valid", o.Valid, 0, 1<<24, "held-out pretraining utterances")
	intVar(fs, &o.DigitReps, "digit-reps", o.DigitReps, 0, 1000, "renditions of each digit per voice")
	intVar(fs, &o.DigitVoices, "digit-voices", o.DigitVoices, 0, nv, fmt.Sprintf("voices speaking the digits (of the %d accent+variant voices; 0: all)", nv))
	intVar(fs, &o.TestVoices, "test-voices", o.TestVoices, 0, nv, "digit voices held out for probe-test (at most half the digit voices)")
	fs.StringVar(&o.Fortunes, "fortunes", o.Fortunes, "fortune(6) directory with the sentences")
	fs.StringVar(&o.Espeak, "espeak", o.Espeak, "espeak-ng binary")
	intVar(fs, &o.Workers, "workers", 0, 0, maxWorkers, "parallel espeak-ng processes (0: one per core)")
	fs.BoolVar(&jsonOut, "json", false, "print the summary as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("speechdata: unexpected arguments %q", fs.Args())
	}
	if o.Out == "" {
		return usagef("speechdata: --out is required")
	}
	start := time.Now()
	sum, err := speechdata.Generate(ctx, o)
	if err != nil {
		return err
	}
	if jsonOut {
		b, _ := json.MarshalIndent(sum, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return nil
	}
	fmt.Fprintf(env.Stdout, "speechdata: %s: %d + %d pretraining utterances (%.0f s of train audio), %d probe-train and %d probe-test digits (%d held-out voices) in %.1f s\n",
		o.Out, sum.Train, sum.Valid, sum.TrainSeconds, sum.DigitsTrain, sum.DigitsTest, len(sum.TestVoices), time.Since(start).Seconds())
	return nil
}
