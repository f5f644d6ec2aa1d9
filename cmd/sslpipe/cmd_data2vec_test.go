//go:build cgo

package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestMethodFromArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "data2vec", "--modality", "text"}, "data2vec"},
		{[]string{"--modality=text", "-method=data2vec"}, "data2vec"},
		{[]string{"--preset", "cifar"}, ""},
		{[]string{"--", "--method", "x"}, ""},
	} {
		if got := methodFromArgs(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
	if trainMethods["data2vec"] == nil {
		t.Fatal("data2vec is not a registered train method")
	}
}

func TestData2vecTrainPrintConfig(t *testing.T) {
	env, out, _ := testEnv()
	err := runData2vecTrainMethod(t.Context(), env, []string{"--method", "data2vec", "--modality", "image", "--out", "/tmp/x", "--steps", "7", "--print-config"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"modality: image", "steps: 7", "dir: /tmp/x", "method: data2vec"} {
		if !slices.Contains(lines, want) {
			t.Errorf("config lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTrainMethodDispatch(t *testing.T) {
	for _, m := range []string{"data2vec", "hubert"} {
		if trainMethods[m] == nil {
			t.Errorf("sslpipe train --method %s is not wired", m)
		}
	}
	got := methodArgs([]string{"--method", "hubert", "--out", "runs/x", "--steps", "3", "--out=runs/y", "-method=hubert"})
	want := "--dir runs/x --steps 3 --dir=runs/y"
	if strings.Join(got, " ") != want {
		t.Fatalf("methodArgs = %q, want %q", strings.Join(got, " "), want)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"train", "--method", "hubert", "--print-config"})
	if err != nil || !strings.Contains(out.String(), "layers") {
		t.Fatalf("train --method hubert --print-config: %v\n%s%s", err, out.String(), errb.String())
	}
}
