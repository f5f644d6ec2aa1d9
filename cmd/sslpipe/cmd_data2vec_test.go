//go:build cgo

package main

import (
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
