package spec

import "sort"

// NodeSize is what the guide's node minimums are checked against.
type NodeSize struct {
	CPU       int
	MemoryGiB int
	// NetworkGbps is the bandwidth the cloud advertises for the size (its
	// "up to" figure where it gives one); 0 for simulated nodes.
	NetworkGbps float64
}

// Sizes are the node instance types the platform knows per cloud. A type
// outside this list is refused rather than guessed: the guide's 16 GiB floor
// can only be checked for a size whose memory is known.
var Sizes = map[Cloud]map[string]NodeSize{
	AWS: {
		"t3.large": {2, 8, 5}, "t3.xlarge": {4, 16, 5}, "m6i.large": {2, 8, 12.5},
		"m6i.xlarge": {4, 16, 12.5}, "m6i.2xlarge": {8, 32, 12.5}, "m6i.4xlarge": {16, 64, 12.5},
		"m7i.xlarge": {4, 16, 12.5}, "m7i.2xlarge": {8, 32, 12.5}, "m7i.4xlarge": {16, 64, 12.5},
		"r6i.xlarge": {4, 32, 12.5}, "r6i.2xlarge": {8, 64, 12.5}, "c6i.2xlarge": {8, 16, 12.5},
	},
	Azure: {
		"Standard_B2s": {2, 4, 1}, "Standard_D2s_v5": {2, 8, 12.5}, "Standard_D4s_v5": {4, 16, 12.5},
		"Standard_D8s_v5": {8, 32, 12.5}, "Standard_D16s_v5": {16, 64, 12.5},
		"Standard_E4s_v5": {4, 32, 12.5}, "Standard_E8s_v5": {8, 64, 12.5},
	},
	GCP: {
		"e2-medium": {2, 4, 2}, "e2-standard-2": {2, 8, 4}, "e2-standard-4": {4, 16, 8},
		"e2-standard-8": {8, 32, 16}, "n2-standard-4": {4, 16, 10}, "n2-standard-8": {8, 32, 16},
		"n2-highmem-4": {4, 32, 10},
	},
	Local: {
		"sim-2cpu-8gi": {2, 8, 0}, "sim-4cpu-16gi": {4, 16, 0}, "sim-8cpu-32gi": {8, 32, 0},
	},
}

// DefaultNodeSize is the smallest size of each cloud that meets the guide
// (16 GiB, 10 Gbps).
var DefaultNodeSize = map[Cloud]string{
	AWS:   "m6i.xlarge",
	Azure: "Standard_D4s_v5",
	GCP:   "n2-standard-4",
	Local: "sim-4cpu-16gi",
}

// SizeNames lists a cloud's known sizes, sorted, for error messages.
func SizeNames(c Cloud) []string {
	var out []string
	for n := range Sizes[c] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
