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
	fs.IntVar(&o.Pretrain, "pretrain", o.Pretrain, "pretraining utterances (train split)")
	fs.IntVar(&o.Valid, "valid", o.Valid, "held-out pretraining utterances")
	fs.IntVar(&o.DigitReps, "digit-reps", o.DigitReps, "renditions of each digit per voice")
	fs.IntVar(&o.DigitVoices, "digit-voices", o.DigitVoices, "voices speaking the digits (of the 204 accent+variant voices)")
	fs.IntVar(&o.TestVoices, "test-voices", o.TestVoices, "digit voices held out for probe-test")
	fs.StringVar(&o.Fortunes, "fortunes", o.Fortunes, "fortune(6) directory with the sentences")
	fs.StringVar(&o.Espeak, "espeak", o.Espeak, "espeak-ng binary")
	fs.IntVar(&o.Workers, "workers", 0, "parallel espeak-ng processes (0: one per core)")
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
