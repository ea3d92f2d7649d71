package netguard

import (
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true}, {"2a00:1450:4001:80b::200e", true}, {"1.1.1.1", true}, {"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true}, {"2002:808:808::1", true}, {"2001:4860:4860::8888", true},
		{"0.0.0.0", false}, {"::ffff:0.0.0.0", false}, {"0.1.2.3", false}, {"10.1.2.3", false}, {"::ffff:10.1.2.3", false},
		{"100.64.0.1", false}, {"100.127.255.254", false}, {"127.0.0.1", false}, {"::ffff:127.0.0.1", false},
		{"169.254.169.254", false}, {"172.16.0.1", false}, {"172.31.255.255", false}, {"192.0.0.8", false},
		{"192.0.2.1", false}, {"192.168.1.1", false}, {"198.18.0.1", false}, {"198.19.255.255", false},
		{"198.51.100.1", false}, {"203.0.113.1", false}, {"224.0.0.1", false}, {"240.0.0.1", false}, {"255.255.255.255", false},
		{"::", false}, {"::1", false}, {"::10.0.0.1", false}, {"::127.0.0.1", false}, {"64:ff9b::a00:1", false},
		{"64:ff9b::7f00:1", false}, {"64:ff9b:1::1", false}, {"2002:a00:1::1", false}, {"2002:7f00:1::1", false},
		{"2001::1", false}, {"2001:db8::1", false}, {"3fff::1", false}, {"fc00::1", false}, {"fd12:3456::1", false},
		{"fe80::1", false}, {"fe80::1%eth0", false}, {"fec0::1", false}, {"ff02::1", false}, {"100::1", false},
	} {
		a := netip.MustParseAddr(tt.addr)
		if got := Public(a); got != tt.want {
			t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero address is public")
	}
}

func TestClientNet(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"192.0.2.77", "192.0.2.0/24"},
		{"::ffff:192.0.2.77", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	} {
		if got := ClientNet(netip.MustParseAddr(tt.addr)).String(); got != tt.want {
			t.Errorf("ClientNet(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}
