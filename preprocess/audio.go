package preprocess

import (
	"context"
	"errors"
)

func newAudioProducer(ctx context.Context, o *Options, r *runner) (producer, error) {
	return nil, errors.New("preprocess: audio: not implemented yet")
}
