package preprocess

import (
	"context"
	"errors"
)

func newTextProducer(ctx context.Context, o *Options, r *runner) (producer, error) {
	return nil, errors.New("preprocess: text: not implemented yet")
}
