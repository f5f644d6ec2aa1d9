// Command sugarme_eval measures github.com/sugarme/tokenizer v0.3.0 against
// the Hugging Face golden ids of text/testdata (the evaluation behind the
// decision not to use it in text/). It is a separate module so that its
// dependencies stay out of sslpipe's go.mod.
//
//	cd benchmarks/text/sugarme_eval && go run . ../../../text/testdata
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sugarme/tokenizer/pretrained"
)

func main() {
	dir := "../../../text/testdata"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	data, _ := os.ReadFile(dir + "/mixed.txt")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for _, c := range [][2]string{{dir + "/wordpiece-fortunes.json", dir + "/golden-wordpiece.jsonl"}, {dir + "/bpe-fortunes.json", dir + "/golden-bpe.jsonl"}} {
		tk, err := pretrained.FromFile(c[0])
		if err != nil {
			fmt.Println(c[0], "load error:", err)
			continue
		}
		f, _ := os.Open(c[1])
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		i, bad, errs := 0, 0, 0
		first := ""
		for sc.Scan() {
			var r struct {
				IDs []int `json:"ids"`
			}
			json.Unmarshal(sc.Bytes(), &r)
			func() {
				defer func() {
					if p := recover(); p != nil {
						errs++
						if first == "" {
							first = fmt.Sprintf("panic line %d: %v", i+1, p)
						}
					}
				}()
				e, err := tk.EncodeSingle(lines[i], false)
				if err != nil {
					errs++
					return
				}
				if !slices.Equal(e.Ids, r.IDs) {
					bad++
					if first == "" {
						first = fmt.Sprintf("line %d %q got %v want %v", i+1, lines[i], e.Ids, r.IDs)
					}
				}
			}()
			i++
		}
		// speed on the 260 fortune lines of mixed.txt, 20 passes
		fl := lines[:260]
		t0 := time.Now()
		nb := 0
		for rep := 0; rep < 20; rep++ {
			for _, l := range fl {
				tk.EncodeSingle(l, false)
				nb += len(l)
			}
		}
		el := time.Since(t0).Seconds()
		fmt.Printf("%s: %d lines, %d differ, %d errors/panics; %.2f MB/s\n  first: %s\n", c[0], i, bad, errs, float64(nb)/el/1e6, first)
	}
}
