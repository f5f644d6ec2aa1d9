package data_test

import "github.com/sslpipe/sslpipe/preprocess"

func preprocessImagePNG() preprocess.Options {
	return preprocess.Options{Modality: preprocess.Image, Format: "png", LabelsFromDirs: true, ShardSize: 7}
}
