package dist

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		ok   bool
		want Env
		err  string
	}{
		{name: "none", vars: map[string]string{"HOME": "/root"}},
		{
			name: "torchrun",
			vars: map[string]string{"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
				"MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "29400", "TORCHELASTIC_USE_AGENT_STORE": "True",
				"TORCHELASTIC_RESTART_COUNT": "2", "GLOO_SOCKET_IFNAME": "eth1"},
			ok: true,
			want: Env{Launcher: "torchrun", Rank: 3, World: 8, LocalRank: 1, LocalWorld: 2, MasterAddr: "10.0.0.5",
				MasterPort: 29400, AgentStore: true, RestartCount: 2, GlooInterface: "eth1"},
		},
		{
			name: "kubeflow pytorchjob",
			vars: map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "job-master-0", "MASTER_PORT": "23456"},
			ok:   true,
			want: Env{Launcher: "torchrun", Rank: 1, World: 2, LocalRank: 0, LocalWorld: 1, MasterAddr: "job-master-0", MasterPort: 23456},
		},
		{
			name: "launch local",
			vars: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2",
				"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "40000", EnvStoreFile: "/tmp/x/store"},
			ok: true,
			want: Env{Launcher: "torchrun", Rank: 0, World: 2, LocalRank: 0, LocalWorld: 2, MasterAddr: "127.0.0.1",
				MasterPort: 40000, StoreFile: "/tmp/x/store"},
		},
		{
			name: "slurm",
			vars: map[string]string{"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "1", "SLURM_NODEID": "2",
				"SLURM_TASKS_PER_NODE": "2(x3)", "SLURM_JOB_NODELIST": "gpu[007-009]", "SLURM_JOB_ID": "123456"},
			ok: true,
			want: Env{Launcher: "slurm", Rank: 5, World: 6, LocalRank: 1, LocalWorld: 2, MasterAddr: "gpu007",
				MasterPort: 20000 + 123456%10000},
		},
		{
			name: "slurm uneven nodes, master override",
			vars: map[string]string{"SLURM_PROCID": "6", "SLURM_NTASKS": "7", "SLURM_LOCALID": "0", "SLURM_NODEID": "3",
				"SLURM_STEP_TASKS_PER_NODE": "2(x3),1", "SLURM_NODELIST": "a1,b[2-3]", "MASTER_ADDR": "head", "MASTER_PORT": "1234"},
			ok:   true,
			want: Env{Launcher: "slurm", Rank: 6, World: 7, LocalRank: 0, LocalWorld: 1, MasterAddr: "head", MasterPort: 1234},
		},
		{
			name: "torchrun wins over slurm",
			vars: map[string]string{"RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": "1",
				"MASTER_ADDR": "localhost", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"},
			ok:   true,
			want: Env{Launcher: "torchrun", Rank: 1, World: 2, LocalRank: 1, LocalWorld: 2, MasterAddr: "localhost", MasterPort: DefaultPort},
		},
		{name: "rank too large", vars: map[string]string{"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h"}, err: "rank 2 of world size 2"},
		{name: "bad number", vars: map[string]string{"RANK": "x", "WORLD_SIZE": "2"}, err: `RANK="x"`},
		{name: "no master", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "2"}, err: "no MASTER_ADDR"},
		{name: "bad port", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "70000"}, err: "MASTER_PORT"},
		{name: "bad local rank", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "LOCAL_RANK": "1"}, err: "local rank 1 of 1"},
		{name: "slurm bad nodelist", vars: map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n[1-"}, err: "SLURM_JOB_NODELIST"},
		{name: "slurm bad tasks", vars: map[string]string{"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1",
			"SLURM_TASKS_PER_NODE": "2(y3)"}, err: "SLURM_TASKS_PER_NODE"},
		{name: "single process world", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "1"}, ok: true,
			want: Env{Launcher: "torchrun", World: 1, LocalWorld: 1, MasterAddr: "127.0.0.1", MasterPort: DefaultPort}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := FromEnv(envFunc(c.vars))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("FromEnv = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestEnvOptions(t *testing.T) {
	e := Env{Rank: 3, World: 8, LocalRank: 1, LocalWorld: 2, MasterAddr: "10.0.0.5", MasterPort: 29400, AgentStore: true, RestartCount: 2}
	o := e.Options(Gloo, 5*time.Second)
	if o.Rank != 3 || o.World != 8 || o.StoreAddr != "10.0.0.5" || o.StorePort != 29400 || !o.AgentStore || o.Device != 1 ||
		o.Local || o.StorePrefix != "/worker/attempt_2/sslpipe/" || o.Timeout != 5*time.Second {
		t.Errorf("multi-machine options = %+v", o)
	}
	e = Env{Rank: 1, World: 2, LocalRank: 1, LocalWorld: 2, MasterAddr: "host", MasterPort: 1}
	if o := e.Options(NCCL, 0); !o.Local || o.StorePrefix != "" || o.Backend != NCCL {
		t.Errorf("one machine: %+v", o)
	}
	e = Env{Rank: 1, World: 4, LocalWorld: 1, LocalRank: 0, MasterAddr: "::1", MasterPort: 1}
	if o := e.Options(Gloo, 0); !o.Local {
		t.Errorf("loopback master is local: %+v", o)
	}
	e = Env{Rank: 1, World: 4, LocalWorld: 1, MasterAddr: "h", MasterPort: 1, RestartCount: 1}
	if o := e.Options(Gloo, 0); o.StorePrefix != "sslpipe/attempt_1/" {
		t.Errorf("restart prefix = %q", o.StorePrefix)
	}
}

func TestExpandNodeList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "node01", want: []string{"node01"}},
		{in: "node[03-05,7]", want: []string{"node03", "node04", "node05", "node7"}},
		{in: "a[1-2],b3,c[09-10]", want: []string{"a1", "a2", "b3", "c09", "c10"}},
		{in: "rack[1-2]-n[01-02]", want: []string{"rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"}},
		{in: "gpu-[8]x", want: []string{"gpu-8x"}},
		{in: " x , y ", want: []string{"x", "y"}},
		{in: "n[1-", err: "unbalanced"},
		{in: "n]1", err: "unbalanced"},
		{in: "n[3-1]", err: "bad range"},
		{in: "n[a-b]", err: "bad range"},
		{in: "n[-1]", err: "bad range"},
		{in: "", err: "empty"},
		{in: "n[0-99999]", err: "more than"},
	}
	for _, c := range cases {
		got, err := ExpandNodeList(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ExpandNodeList(%q) = %v, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExpandNodeList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		first, err := FirstHost(c.in)
		if err != nil || first != c.want[0] {
			t.Errorf("FirstHost(%q) = %q, %v; want %q", c.in, first, err, c.want[0])
		}
	}
	// The first host of a huge list without expanding it.
	if h, err := FirstHost("n[0000-99999999],m1"); err != nil || h != "n0000" {
		t.Errorf("FirstHost of a huge list = %q, %v", h, err)
	}
}

func FuzzExpandNodeList(f *testing.F) {
	for _, s := range []string{"node[03-05,7]", "a[1-2],b3", "r[1-2]-n[01-02]", "n[1-", "x,,y", "[]", "n[0-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, err := ExpandNodeList(s)
		first, ferr := FirstHost(s)
		if err != nil {
			return
		}
		if len(hosts) == 0 || len(hosts) > maxHosts {
			t.Fatalf("%q: %d hosts", s, len(hosts))
		}
		if ferr != nil || first != hosts[0] {
			t.Fatalf("%q: FirstHost = %q, %v; ExpandNodeList starts with %q", s, first, ferr, hosts[0])
		}
		for _, h := range hosts {
			if strings.ContainsAny(h, "[],") {
				t.Fatalf("%q: host %q keeps list syntax", s, h)
			}
		}
	})
}

func TestTasksOnNode(t *testing.T) {
	for _, c := range []struct {
		list       string
		node, want int
	}{
		{"4", 0, 4}, {"2(x3),1", 0, 2}, {"2(x3),1", 2, 2}, {"2(x3),1", 3, 1}, {"1,3,2", 1, 3},
	} {
		if got, err := tasksOnNode(c.list, c.node); err != nil || got != c.want {
			t.Errorf("tasksOnNode(%q, %d) = %d, %v; want %d", c.list, c.node, got, err, c.want)
		}
	}
	for _, bad := range []string{"x", "2(3)", "0", "2(x0)", "2(x3"} {
		if _, err := tasksOnNode(bad, 0); err == nil {
			t.Errorf("tasksOnNode(%q) accepted", bad)
		}
	}
	if _, err := tasksOnNode("2(x3),1", 4); err == nil {
		t.Error("node past the list accepted")
	}
}
