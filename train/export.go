package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ExportBackbone writes the backbone of a run folder's newest checkpoint
// ("teacher": the EMA target, "student": the online network) to path as
// safetensors, with torchvision's parameter names (see the package doc):
//
//	from safetensors.torch import load_file
//	m = torchvision.models.resnet18(); m.fc = torch.nn.Identity()
//	m.load_state_dict(load_file(path), strict=False)  # num_batches_tracked absent
//
// The metadata holds the architecture ("sslpipe_arch", JSON) and the
// normalization the encoder expects ("sslpipe_input", JSON). It needs no
// libtorch.
func ExportBackbone(runDir, network, path string) error {
	ck, err := LatestCheckpoint(runDir)
	if err != nil {
		return err
	}
	tensors, st, err := ReadCheckpoint(ck)
	if err != nil {
		return err
	}
	prefix := map[string]string{"teacher": "target.backbone.", "student": "online.backbone."}[network]
	if prefix == "" {
		return fmt.Errorf("train: export: network %q: want teacher or student", network)
	}
	out := map[string]STensor{}
	for name, t := range tensors {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			out[rest] = t
		}
	}
	if len(out) == 0 {
		return fmt.Errorf("train: export: checkpoint %s has no %s tensors", ck, prefix)
	}
	cfg, err := LoadConfig(runDir + "/config.yaml")
	if err != nil {
		return err
	}
	aj, _ := json.Marshal(st.Arch)
	ij, _ := json.Marshal(inputSpec(&cfg))
	var b bytes.Buffer
	if err := WriteSafetensors(&b, out, map[string]string{"format": "pt", "sslpipe_arch": string(aj), "sslpipe_input": string(ij),
		"sslpipe_step": fmt.Sprint(st.Step), "sslpipe_network": network}); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}
