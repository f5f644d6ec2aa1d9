package preprocess

// ShardWriter writes one WebDataset tar shard atomically, in the layout
// preprocess writes (members <key>.<field>, fixed headers): for tools that
// derive shards from a dataset, such as HuBERT's iteration-2 labels. The
// shard appears under its final name only after Commit.
type ShardWriter struct{ w *shardWriter }

// NewShardWriter starts the shard path.
func NewShardWriter(path string) (*ShardWriter, error) {
	w, err := newShardWriter(path)
	if err != nil {
		return nil, err
	}
	return &ShardWriter{w}, nil
}

// Add appends one sample's members, in the order given.
func (s *ShardWriter) Add(key string, fields ...Field) error {
	return s.w.Add(sampleOut{Key: key, Fields: fields})
}

// Commit finishes the shard and renames it into place; it returns the
// shard's SHA-256 and size.
func (s *ShardWriter) Commit() (sha string, size int64, err error) { return s.w.Commit() }

// Abort removes the partial shard.
func (s *ShardWriter) Abort() { s.w.Abort() }
