package byol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sslpipe/sslpipe/train"
)

// exportNet writes n's backbone with torchvision's names (the "backbone."
// prefix removed) to path as safetensors:
//
//	from safetensors.torch import load_file
//	m = torchvision.models.resnet18(); m.fc = torch.nn.Identity()
//	m.load_state_dict(load_file(path), strict=False)  # num_batches_tracked absent
//
// The metadata holds the architecture ("sslpipe_arch", JSON) and the
// normalization the encoder expects ("sslpipe_input", JSON).
func exportNet(n *net, c *train.Config, network string, step int64, path string) error {
	ts, err := n.p.Tensors("backbone.")
	if err != nil {
		return err
	}
	return writeExport(ts, "backbone.", c, network, step, path)
}

func writeExport(ts map[string]train.STensor, prefix string, c *train.Config, network string, step int64, path string) error {
	out := map[string]train.STensor{}
	for name, t := range ts {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			out[rest] = t
		}
	}
	if len(out) == 0 {
		return fmt.Errorf("byol: export: no %s tensors", prefix)
	}
	aj, _ := json.Marshal(model(c).Arch)
	in := inputSpec(c)
	ij, _ := json.Marshal(map[string]any{"channels": in.channels, "size": in.size, "mean": in.norm.Mean, "std": in.norm.Std})
	var b bytes.Buffer
	if err := train.WriteSafetensors(&b, out, map[string]string{"format": "pt", "sslpipe_arch": string(aj), "sslpipe_input": string(ij),
		"sslpipe_step": fmt.Sprint(step), "sslpipe_network": network}); err != nil {
		return err
	}
	return train.WriteFileAtomic(path, b.Bytes())
}

// ExportBackbone writes the backbone of a run folder's newest checkpoint
// ("teacher": the EMA target, "student": the online network) to path as
// safetensors with torchvision's parameter names. It needs no libtorch.
func ExportBackbone(runDir, network, path string) error {
	ck, err := train.LatestCheckpoint(runDir)
	if err != nil {
		return err
	}
	ts, st, err := train.ReadCheckpoint(ck)
	if err != nil {
		return err
	}
	prefix := map[string]string{"teacher": "target.backbone.", "student": "online.backbone."}[network]
	if prefix == "" {
		return fmt.Errorf("byol: export: network %q: want teacher or student", network)
	}
	c, err := train.LoadConfig(filepath.Join(runDir, "config.yaml"))
	if err != nil {
		return err
	}
	return writeExport(ts, prefix, &c, network, st.Step, path)
}
