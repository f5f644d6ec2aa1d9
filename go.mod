module github.com/sslpipe/sslpipe

go 1.26

// github.com/sugarme/tokenizer is not a requirement: its evaluation (the
// reason text/ has its own encoder) is benchmarks/text/sugarme_eval, a
// module of its own.

require (
	github.com/disintegration/imaging v1.6.2
	github.com/ebitengine/purego v0.11.3
	github.com/go-audio/wav v1.1.0
	github.com/sugarme/gotch v0.9.1
	go.uber.org/goleak v1.3.0
	golang.org/x/image v0.25.0
	golang.org/x/text v0.25.0
	gonum.org/v1/gonum v0.17.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/go-audio/audio v1.0.0 // indirect
	github.com/go-audio/riff v1.0.0 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/stretchr/testify v1.10.0 // indirect
)

replace github.com/sugarme/gotch => ./third_party/gotch
