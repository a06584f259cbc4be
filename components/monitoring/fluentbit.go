package monitoring

import (
	"strconv"
	"strings"

	k8scorev1 "k8s.io/api/core/v1"
)

// fluentBitValues are the fluent-bit chart's values the platform sets
// (chart 0.58's values.yaml: config.* are Fluent Bit's classic sections).
type fluentBitValues struct {
	Config            fluentBitConfig         `json:"config"`
	ExtraVolumes      []k8scorev1.Volume      `json:"extraVolumes"`
	ExtraVolumeMounts []k8scorev1.VolumeMount `json:"extraVolumeMounts"`
	// Tolerations: every node's logs, tainted nodes' too.
	Tolerations []k8scorev1.Toleration `json:"tolerations"`
}

type fluentBitConfig struct {
	Service string `json:"service"`
	Inputs  string `json:"inputs"`
	Filters string `json:"filters"`
	Outputs string `json:"outputs"`
}

// fluentBitState is where Fluent Bit keeps its read positions and the
// chunks not yet forwarded, on the node's disk, so a restart or a Fluentd
// outage loses nothing.
const fluentBitState = "/var/fluent-bit/state"

// FluentBitValues are the node agent's values: tail every container's
// log (the runtime's CRI or Docker format; JSON lines are parsed into
// fields by the Kubernetes filter, which adds the pod's metadata), buffer
// on the node's filesystem, and forward to Fluentd over TLS with its
// client certificate, retrying without limit.
func FluentBitValues() any {
	section := func(name string, kv ...string) string {
		var b strings.Builder
		b.WriteString("[" + name + "]\n")
		for i := 0; i+1 < len(kv); i += 2 {
			b.WriteString("    " + kv[i] + " " + kv[i+1] + "\n")
		}
		return b.String()
	}
	return fluentBitValues{
		Config: fluentBitConfig{
			Service: section("SERVICE", "Daemon", "Off", "Flush", "1", "Log_Level", "info",
				"Parsers_File", "/fluent-bit/etc/parsers.conf", "HTTP_Server", "On", "HTTP_Listen", "0.0.0.0",
				"HTTP_Port", strconv.Itoa(FluentBitHTTPPort), "Health_Check", "On",
				"storage.path", fluentBitState+"/flb-storage/", "storage.sync", "normal", "storage.backlog.mem_limit", "16M"),
			Inputs: section("INPUT", "Name", "tail", "Path", "/var/log/containers/*.log", "multiline.parser", "cri, docker",
				"Tag", "kube.*", "Mem_Buf_Limit", "64MB", "Skip_Long_Lines", "On", "storage.type", "filesystem",
				"DB", fluentBitState+"/tail.db"),
			Filters: section("FILTER", "Name", "kubernetes", "Match", "kube.*", "Merge_Log", "On", "Keep_Log", "Off",
				"K8S-Logging.Parser", "On", "K8S-Logging.Exclude", "On"),
			Outputs: section("OUTPUT", "Name", "forward", "Match", "kube.*",
				"Host", FluentdName+"."+Namespace+".svc.cluster.local", "Port", strconv.Itoa(ForwardPort),
				"tls", "On", "tls.verify", "On", "tls.ca_file", "/fluent-bit/tls/ca.crt",
				"tls.crt_file", "/fluent-bit/tls/tls.crt", "tls.key_file", "/fluent-bit/tls/tls.key",
				"storage.total_limit_size", "5G", "Retry_Limit", "no_limits"),
		},
		ExtraVolumes: []k8scorev1.Volume{
			{Name: "state", VolumeSource: k8scorev1.VolumeSource{HostPath: &k8scorev1.HostPathVolumeSource{Path: fluentBitState}}},
			{Name: "tls", VolumeSource: k8scorev1.VolumeSource{Secret: &k8scorev1.SecretVolumeSource{SecretName: FluentBitTLSSecret}}},
		},
		ExtraVolumeMounts: []k8scorev1.VolumeMount{
			{Name: "state", MountPath: fluentBitState},
			{Name: "tls", MountPath: "/fluent-bit/tls", ReadOnly: true},
		},
		Tolerations: []k8scorev1.Toleration{{Operator: k8scorev1.TolerationOpExists}},
	}
}
