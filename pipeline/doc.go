// Package pipeline streams samples from sources through concurrent,
// deterministic, resumable stages to a consumer (a trainer or a writer).
package pipeline
