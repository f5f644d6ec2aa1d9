package shim

import (
	"fmt"
	"regexp"
	"strings"
)

// cppFunc is one top-level function definition in a C++ source: the lines
// [Start, End] (0-based, inclusive) of its text.
type cppFunc struct {
	Name       string
	ReturnType string // text before the name, e.g. "void", "tensor *", "int64_t"
	Start, End int
	Signature  string // everything up to (not including) the opening brace
}

var funcHeadRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_:<>,\s\*&]*?[\s\*&])([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// parseFuncs finds top-level function definitions written the way gotch's
// sources are: the signature starts in column 0, the body ends with a line
// that is exactly "}". Other top-level lines (includes, comments, macros,
// templates, declarations ending in ';') are not functions.
func parseFuncs(lines []string) []cppFunc {
	var funcs []cppFunc
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == '/' || l[0] == '}' || strings.HasPrefix(l, "template") {
			continue
		}
		m := funcHeadRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// The signature runs until the line holding the opening brace.
		j := i
		var sig strings.Builder
		found := false
		for ; j < len(lines) && j < i+8; j++ {
			k := strings.IndexByte(lines[j], '{')
			s := strings.IndexByte(lines[j], ';')
			if s >= 0 && (k < 0 || s < k) {
				break // a declaration
			}
			if k >= 0 {
				sig.WriteString(lines[j][:k])
				found = true
				break
			}
			sig.WriteString(lines[j])
			sig.WriteByte('\n')
		}
		if !found {
			continue
		}
		// One-line body: "void f() { ...; }".
		end := -1
		if rest := lines[j][strings.IndexByte(lines[j], '{'):]; strings.Count(rest, "{") == strings.Count(rest, "}") {
			end = j
		} else {
			for k := j + 1; k < len(lines); k++ {
				if lines[k] == "}" {
					end = k
					break
				}
			}
		}
		if end < 0 {
			continue
		}
		funcs = append(funcs, cppFunc{
			Name:       m[2],
			ReturnType: strings.TrimSpace(m[1]),
			Start:      i,
			End:        end,
			Signature:  strings.TrimRight(sig.String(), " \n"),
		})
		i = end
	}
	return funcs
}

// stubBody returns a definition of f that records gotch's error instead of
// calling libtorch, returning a zero value where the function returns one.
func stubBody(f cppFunc, libtorchVersion string) string {
	op := strings.TrimPrefix(f.Name, "atg_")
	msg := fmt.Sprintf("%s is not supported by libtorch %s (sslpipe shim)", op, libtorchVersion)
	ret := ""
	if f.ReturnType != "void" {
		ret = "\n  return {};"
	}
	return fmt.Sprintf("%s {\n  torch_last_err = strdup(%q);%s\n}", f.Signature, msg, ret)
}

// funcAtLine returns the index in funcs of the function whose text holds
// line (0-based), or -1.
func funcAtLine(funcs []cppFunc, line int) int {
	lo, hi := 0, len(funcs)
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case line < funcs[mid].Start:
			hi = mid
		case line > funcs[mid].End:
			lo = mid + 1
		default:
			return mid
		}
	}
	return -1
}

// silentStubBody returns a definition of f that returns a zero value
// without recording an error.
func silentStubBody(f cppFunc) string {
	if f.ReturnType == "void" {
		return f.Signature + " {}"
	}
	return f.Signature + " { return {}; }"
}
