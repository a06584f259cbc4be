package spof

import (
	"fmt"
	"strings"

	storagev1 "k8s.io/api/storage/v1"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// volume is what a cloud disk driver's volumes survive: the zones one
// volume is replicated in, and the documentation that says so.
type volume struct {
	zones int
	what  string
}

// diskDrivers read a storage class's parameters into its volumes, for the
// drivers of the clouds' block disks (the CSI drivers and the in-tree
// names they replaced). A class of any other provisioner (the local
// stack's kubernetes.io/no-provisioner, a file share) is not judged.
var diskDrivers = map[string]func(map[string]string) volume{
	"ebs.csi.aws.com":          ebsVolume,
	"kubernetes.io/aws-ebs":    ebsVolume,
	"pd.csi.storage.gke.io":    persistentDisk,
	"kubernetes.io/gce-pd":     persistentDisk,
	"disk.csi.azure.com":       azureDisk,
	"kubernetes.io/azure-disk": azureDisk,
}

// ebsVolume: "An EBS volume and the instance to which it attaches must be
// in the same Availability Zone" (Amazon EBS User Guide); no EBS type is
// replicated across zones.
func ebsVolume(map[string]string) volume {
	return volume{1, "an EBS volume lives in one Availability Zone"}
}

// persistentDisk: replication-type regional-pd replicates a disk
// synchronously over two zones of the region (GCP docs, Regional
// Persistent Disk; Compute Engine persistent disk CSI driver parameters);
// otherwise it is zonal.
func persistentDisk(p map[string]string) volume {
	if strings.EqualFold(param(p, "replication-type"), "regional-pd") {
		return volume{2, "replication-type regional-pd replicates each disk over two zones"}
	}
	return volume{1, "a zonal persistent disk lives in one zone"}
}

// azureDisk: a ZRS managed disk (Premium_ZRS, StandardSSD_ZRS) is
// replicated synchronously over three zones; an LRS disk lives in one
// (Azure docs, Redundancy options for managed disks). The CSI driver
// reads skuName, the in-tree one storageaccounttype, both
// case-insensitively.
func azureDisk(p map[string]string) volume {
	sku := or(param(p, "skuName"), param(p, "storageaccounttype"))
	if strings.HasSuffix(strings.ToUpper(sku), "_ZRS") {
		return volume{3, fmt.Sprintf("skuName %s replicates each disk over three zones", sku)}
	}
	return volume{1, fmt.Sprintf("a %s managed disk lives in one zone", or(sku, "StandardSSD_LRS (the driver's default)"))}
}

func param(p map[string]string, key string) string {
	for k, v := range p {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// diskFindings judge every storage class of a cloud disk driver. A zonal
// disk ties the pod that claims it to the disk's zone for good; with
// volumeBindingMode Immediate (the API's default) the disk is provisioned
// as soon as the claim exists, in a zone chosen without the pod's
// scheduling constraints, so a StatefulSet's replicas can be pinned to
// zones the scheduler (and their spread) would not have chosen, even all
// to one; WaitForFirstConsumer provisions it in the zone of the node the
// scheduler picked (Kubernetes docs, Storage Classes: Volume binding
// mode). allowedTopologies that leave one zone pin every claim there. A
// disk replicated over zones survives a zone either way.
func diskFindings(g graph.Graph, _ refs, _ string, _ Topology) []Finding {
	var out []Finding
	for _, r := range g.Resources {
		if kube.Kind(r.Type) != "storage.k8s.io/StorageClass" {
			continue
		}
		sc, err := kube.Decode[storagev1.StorageClass](r.Inputs)
		read, ok := diskDrivers[sc.Provisioner]
		if err != nil || !ok {
			continue
		}
		out = append(out, judgeClass(r, sc, read(sc.Parameters)))
	}
	return out
}

// judgeClass gives a class's verdict (replicas: the zones a volume is in;
// remaining: those left when one is lost).
func judgeClass(r graph.Resource, sc storagev1.StorageClass, v volume) Finding {
	f := func(verdict Verdict, reason string) Finding {
		return cloudFinding(r, sc.Name, Zone, verdict, v.zones, v.zones-1, 0, reason)
	}
	mode := storagev1.VolumeBindingImmediate
	if sc.VolumeBindingMode != nil {
		mode = *sc.VolumeBindingMode
	}
	switch zones := allowedZones(sc); {
	case len(zones) == 1 && v.zones == 1:
		return f(SPOF, fmt.Sprintf("allowedTopologies leave one zone (%s) and %s: every pod that claims one runs there, and losing it stops them all; list every zone in allowedTopologies or drop it", zones, v.what))
	case v.zones > 1:
		return f(Survives, fmt.Sprintf("%s: a volume survives a zone's loss and its pod can start in another", v.what))
	case mode == storagev1.VolumeBindingImmediate:
		return f(Degraded, fmt.Sprintf("volumeBindingMode %s and %s: the disk is provisioned before the pod is scheduled, in a zone its spread did not choose, and pins the pod there for good (several replicas possibly in one zone); set volumeBindingMode: WaitForFirstConsumer", mode, v.what))
	}
	return f(Survives, fmt.Sprintf("volumeBindingMode WaitForFirstConsumer: %s, provisioned in the zone the scheduler chose for its pod, so the workload's spread decides what a zone's loss takes", v.what))
}

// allowedZones are the zones a class's allowedTopologies admit (terms are
// ORed; a term without a zone key admits every zone: nil).
func allowedZones(sc storagev1.StorageClass) set {
	out := set{}
	for _, term := range sc.AllowedTopologies {
		zoned := false
		for _, e := range term.MatchLabelExpressions {
			if strings.HasSuffix(e.Key, "/zone") {
				zoned = true
				out.add(setOf(e.Values...))
			}
		}
		if !zoned {
			return nil
		}
	}
	return out
}
