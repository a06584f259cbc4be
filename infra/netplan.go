package infra

import (
	"fmt"
	"math/big"
	"net"
)

// Subnet carves the index-th subnet of newBits extra prefix bits out of an
// IPv4 CIDR, like Terraform's cidrsubnet: Subnet("10.0.0.0/16", 4, 2) is
// "10.0.32.0/20".
func Subnet(base string, newBits, index int) (string, error) {
	_, n, err := net.ParseCIDR(base)
	if err != nil {
		return "", fmt.Errorf("subnet of %q: %w", base, err)
	}
	ones, bits := n.Mask.Size()
	if bits != 32 || ones+newBits > 32 {
		return "", fmt.Errorf("subnet of %q: /%d does not fit", base, ones+newBits)
	}
	if index < 0 || index >= 1<<newBits {
		return "", fmt.Errorf("subnet of %q: index %d out of range for %d new bits", base, index, newBits)
	}
	ip := new(big.Int).SetBytes(n.IP.To4())
	ip.Add(ip, new(big.Int).Lsh(big.NewInt(int64(index)), uint(32-ones-newBits)))
	b := ip.Bytes()
	out := make(net.IP, 4)
	copy(out[4-len(b):], b)
	return fmt.Sprintf("%s/%d", out, ones+newBits), nil
}

// MustSubnet is Subnet for address plans already validated by stacks/spec.
func MustSubnet(base string, newBits, index int) string {
	s, err := Subnet(base, newBits, index)
	if err != nil {
		panic(err)
	}
	return s
}
