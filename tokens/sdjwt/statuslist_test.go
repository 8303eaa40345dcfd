package sdjwt

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// The draft's examples and test vectors (draft-ietf-oauth-status-list,
// §4.1 "Compressed Byte Array", §4.2 and Appendix "Test vectors for Status
// List encoding"), copied from the draft's text: every list has 2^20
// entries, and every index not named holds 0.

type statusVector struct {
	bits int
	set  map[int]byte
	lst  string
}

var statusDraftVectors = []statusVector{
	{ // §Test vectors, 1-bit (examples/status_list_encoding1_long_json.md)
		bits: 1,
		set: map[int]byte{
			0: 0b1, 1993: 0b1, 25460: 0b1, 159495: 0b1, 495669: 0b1, 554353: 0b1, 645645: 0b1, 723232: 0b1,
			854545: 0b1, 934534: 0b1, 1000345: 0b1,
		},
		lst: "" +
			"eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpL" +
			"AAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb",
	},
	{ // §Test vectors, 2-bit (examples/status_list_encoding2_long_json.md)
		bits: 2,
		set: map[int]byte{
			0: 0b01, 1993: 0b10, 25460: 0b01, 159495: 0b11, 495669: 0b01, 554353: 0b01, 645645: 0b10, 723232: 0b01,
			854545: 0b01, 934534: 0b10, 1000345: 0b11,
		},
		lst: "" +
			"eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAEB5WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAID0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAAAOCSIQ" +
			"EAAAAAAAAAAAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwJEuAQAAAAAAAAAAAAAA" +
			"AAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoAAAAAAAAAAAAAAEBqH81gAQw",
	},
	{ // §Test vectors, 4-bit (examples/status_list_encoding4_json.md)
		bits: 4,
		set: map[int]byte{
			0: 0b0001, 1993: 0b0010, 35460: 0b0011, 459495: 0b0100, 595669: 0b0101, 754353: 0b0110, 845645: 0b0111,
			923232: 0b1000, 924445: 0b1001, 934534: 0b1010, 1004534: 0b1011, 1000345: 0b1100, 1030203: 0b1101,
			1030204: 0b1110, 1030205: 0b1111,
		},
		lst: "" +
			"eNrt0EENgDAQADAIHwImkIIEJEwCUpCEBBQRHOy35Li1EjoOQGabAgAAAAAAAAAAAAAAAAAAACC1SQEAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABADrsCAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADoxaEAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAAAIIoCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACArpwKAAAAAAAAAAAAAA" +
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGhqVkAzlwIAAAAAiGVRAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
			"AAAAAABx3AoAgLpVAQAAAAAAAAAAAAAAwM89rwMAAAAAAAAAAAjsA9xMBMA",
	},
	{ // §Test vectors, 8-bit (examples/status_list_encoding8_json.md)
		bits: 8,
		set: map[int]byte{
			233478: 0b00000000, 52451: 0b00000001, 576778: 0b00000010, 513575: 0b00000011, 468106: 0b00000100,
			292632: 0b00000101, 214947: 0b00000110, 182323: 0b00000111, 884834: 0b00001000, 66653: 0b00001001,
			62489: 0b00001010, 196493: 0b00001011, 458517: 0b00001100, 487925: 0b00001101, 55649: 0b00001110,
			416992: 0b00001111, 879796: 0b00010000, 462297: 0b00010001, 942059: 0b00010010, 583408: 0b00010011,
			13628: 0b00010100, 334829: 0b00010101, 886286: 0b00010110, 713557: 0b00010111, 582738: 0b00011000,
			326064: 0b00011001, 451545: 0b00011010, 705889: 0b00011011, 214350: 0b00011100, 194502: 0b00011101,
			796765: 0b00011110, 202828: 0b00011111, 752834: 0b00100000, 721327: 0b00100001, 554740: 0b00100010,
			91122: 0b00100011, 963483: 0b00100100, 261779: 0b00100101, 793844: 0b00100110, 165255: 0b00100111,
			614839: 0b00101000, 758403: 0b00101001, 403258: 0b00101010, 145867: 0b00101011, 96100: 0b00101100,
			477937: 0b00101101, 606890: 0b00101110, 167335: 0b00101111, 488197: 0b00110000, 211815: 0b00110001,
			797182: 0b00110010, 582952: 0b00110011, 950870: 0b00110100, 765108: 0b00110101, 341110: 0b00110110,
			776325: 0b00110111, 745056: 0b00111000, 439368: 0b00111001, 559893: 0b00111010, 149741: 0b00111011,
			358903: 0b00111100, 513405: 0b00111101, 342679: 0b00111110, 969429: 0b00111111, 795775: 0b01000000,
			566121: 0b01000001, 460566: 0b01000010, 680070: 0b01000011, 117310: 0b01000100, 480348: 0b01000101,
			67319: 0b01000110, 661552: 0b01000111, 841303: 0b01001000, 561493: 0b01001001, 138807: 0b01001010,
			442463: 0b01001011, 659927: 0b01001100, 445910: 0b01001101, 1046963: 0b01001110, 829700: 0b01001111,
			962282: 0b01010000, 299623: 0b01010001, 555493: 0b01010010, 292826: 0b01010011, 517215: 0b01010100,
			551009: 0b01010101, 898490: 0b01010110, 837603: 0b01010111, 759161: 0b01011000, 459948: 0b01011001,
			290102: 0b01011010, 1034977: 0b01011011, 190650: 0b01011100, 98810: 0b01011101, 229950: 0b01011110,
			320531: 0b01011111, 335506: 0b01100000, 885333: 0b01100001, 133227: 0b01100010, 806915: 0b01100011,
			800313: 0b01100100, 981571: 0b01100101, 527253: 0b01100110, 24077: 0b01100111, 240232: 0b01101000,
			559572: 0b01101001, 713399: 0b01101010, 233941: 0b01101011, 615514: 0b01101100, 911768: 0b01101101,
			331680: 0b01101110, 951527: 0b01101111, 6805: 0b01110000, 552366: 0b01110001, 374660: 0b01110010,
			223159: 0b01110011, 625884: 0b01110100, 417146: 0b01110101, 320527: 0b01110110, 784154: 0b01110111,
			338792: 0b01111000, 1199: 0b01111001, 679804: 0b01111010, 1024680: 0b01111011, 40845: 0b01111100,
			234603: 0b01111101, 761225: 0b01111110, 644903: 0b01111111, 502167: 0b10000000, 121477: 0b10000001,
			505144: 0b10000010, 165165: 0b10000011, 179628: 0b10000100, 1019195: 0b10000101, 145149: 0b10000110,
			263738: 0b10000111, 269256: 0b10001000, 996739: 0b10001001, 346296: 0b10001010, 555864: 0b10001011,
			887384: 0b10001100, 444173: 0b10001101, 421844: 0b10001110, 653716: 0b10001111, 836747: 0b10010000,
			783119: 0b10010001, 918762: 0b10010010, 946835: 0b10010011, 253764: 0b10010100, 519895: 0b10010101,
			471224: 0b10010110, 134272: 0b10010111, 709016: 0b10011000, 44112: 0b10011001, 482585: 0b10011010,
			461829: 0b10011011, 15080: 0b10011100, 148883: 0b10011101, 123467: 0b10011110, 480125: 0b10011111,
			141348: 0b10100000, 65877: 0b10100001, 692958: 0b10100010, 148598: 0b10100011, 499131: 0b10100100,
			584009: 0b10100101, 1017987: 0b10100110, 449287: 0b10100111, 277478: 0b10101000, 991262: 0b10101001,
			509602: 0b10101010, 991896: 0b10101011, 853666: 0b10101100, 399318: 0b10101101, 197815: 0b10101110,
			203278: 0b10101111, 903979: 0b10110000, 743015: 0b10110001, 888308: 0b10110010, 862143: 0b10110011,
			979421: 0b10110100, 113605: 0b10110101, 206397: 0b10110110, 127113: 0b10110111, 844358: 0b10111000,
			711569: 0b10111001, 229153: 0b10111010, 521470: 0b10111011, 401793: 0b10111100, 398896: 0b10111101,
			940810: 0b10111110, 293983: 0b10111111, 884749: 0b11000000, 384802: 0b11000001, 584151: 0b11000010,
			970201: 0b11000011, 523882: 0b11000100, 158093: 0b11000101, 929312: 0b11000110, 205329: 0b11000111,
			106091: 0b11001000, 30949: 0b11001001, 195586: 0b11001010, 495723: 0b11001011, 348779: 0b11001100,
			852312: 0b11001101, 1018463: 0b11001110, 1009481: 0b11001111, 448260: 0b11010000, 841042: 0b11010001,
			122967: 0b11010010, 345269: 0b11010011, 794764: 0b11010100, 4520: 0b11010101, 818773: 0b11010110,
			556171: 0b11010111, 954221: 0b11011000, 598210: 0b11011001, 887110: 0b11011010, 1020623: 0b11011011,
			324632: 0b11011100, 398244: 0b11011101, 622241: 0b11011110, 456551: 0b11011111, 122648: 0b11100000,
			127837: 0b11100001, 657676: 0b11100010, 119884: 0b11100011, 105156: 0b11100100, 999897: 0b11100101,
			330160: 0b11100110, 119285: 0b11100111, 168005: 0b11101000, 389703: 0b11101001, 143699: 0b11101010,
			142524: 0b11101011, 493258: 0b11101100, 846778: 0b11101101, 251420: 0b11101110, 516351: 0b11101111,
			83344: 0b11110000, 171931: 0b11110001, 879178: 0b11110010, 663475: 0b11110011, 546865: 0b11110100,
			428362: 0b11110101, 658891: 0b11110110, 500560: 0b11110111, 557034: 0b11111000, 830023: 0b11111001,
			274471: 0b11111010, 629139: 0b11111011, 958869: 0b11111100, 663071: 0b11111101, 152133: 0b11111110,
			19535: 0b11111111,
		},
		lst: "" +
			"eNrt0WOQM2kYhtGsbdu2bdu2bdu2bdu2bdu2jVnU1my-SWYm6U5enFPVf7ue97orFYAo7CQBAACQuuckAABStqUEAA" +
			"AAAAAAtN6wEgAE71QJAAAAAIrwhwQAAAAAAdtAAgAAAAAAACLwkAQAAAAAAAAAAACUaFcJAACAeJwkAQAAAAAAAABQ" +
			"vL4kAAAAWmJwCQAAAAAAAAjAwBIAAAB06ywJoDKQBARpfgkAAAAAAAAAAAAAAAAAAACo50sJAAAAAAAAAOiRcSQAAA" +
			"AAgAJNKgEAAG23mgQAAAAAAECw3pUAQvegBAAAAAAAAADduE4CAAAAyjSvBAAQiw8koHjvSABAb-wlARCONyVoxtMS" +
			"ZOd0CQAAAOjWDRKQmLckAAAAAACysLYEQGcnSAAAAAAQooUlAABI15kSAIH5RAIgLB9LABC4_SUgGZNIAABAmM6RoL" +
			"bTJIASzCIBAEAhfpcAAAAAAABquk8CAAAAAAAAaJl9SvvzBOICAFWmkIBgfSgBAAAANOgrCQAAAAAAAADStK8EAAC0" +
			"3gASAAAAAAAAAADFWFUCAAAAMjOaBEADHpYAQjCIBADduFwCAAAAAGitMSSI3BUSAECOHpAA6IHrJQAAAAAAsjeVBA" +
			"AAKRpVAorWvwQAAAAAAAAAkKRtJAAAAAAAgCbcLAF0bXUJAAAAoF02kYDg7CYBAAAAAEB6NpQAAAAAAAAAAAAAAEr1" +
			"uQQAAF06VgIAAAAAAAAAqDaeBAAQqgMkAAAAAABogQMlAAAAAAAa87MEAAAQiwslAAAAAAAAAAAAAAAAMrOyBAAAie" +
			"kv-hcsY0Sgne6QAAAAAAAgaUtJAAAAAAAAAAAAAAAAAAAAAAAAAADwt-07vjVkAAAAgDy8KgFAUEaSAAAAAJL3vgQA" +
			"WdhcAgAAoBHDSUDo1pQAAACI2o4SAABZm14CALoyuwQAAPznGQkgZwdLAAAQukclAAAAAAAAAAAAgKbMKgEAAAAAAA" +
			"AAAAAAAAAAAECftpYAAAAAAAAAAAAACnaXBAAAAADk7iMJAAAAAAAAAABqe00CAnGbBBG4TAIAgFDdKgFAXCaWAAAA" +
			"AAAAAAAAAAAAAKAJQwR72XbGAQAAAKAhh0sAAAAAAABQgO8kAAAAAAAAAAAAACAaM0kAAAC5W0QCAIJ3mAQAxGwxCQ" +
			"AA6nhSAsjZBRIAANEbWQIAAAAAaJE3JACAwA0qAUBIVpKAlphbAiAPp0iQnKEkAAAAAAAgBP1KAAAAdOl4CQAAAAAA" +
			"APjLZBIAAG10RtrPm8_CAEBMTpYAAAAAAIjQYBL8z5QSAAAAAEDYPpUAACAsj0gAAADQkHMlAAjHDxIA0Lg9JQAAgH" +
			"DsLQEAAABAQS6WAAAAgLjNFs2l_RgLAIAEfCEBlGZZCQAAaIHjJACgtlskAAAozb0SAAAAVFtfAgAAAAAAAAAAAAAA" +
			"AAAAAAAAAKDDtxIAAAAAVZaTAKB5W0kAANCAsSUgJ0tL0GqHSNBbL0gAZflRAgCARG0kQXNmlgCABiwkAQAAAEB25p" +
			"IAAAAAAAAAAAAAoFh9SwAAAAAAADWNmOSrpjFsEoaRgDKcF9Q1dxsEAAAAAAAAAAAAAAAAgPZ6SQIAAAAAAAAAgChM" +
			"LgEAAAAAAAAAqZlQAsK2qQQAAAAAAAD06XUJAAAAqG9bCQAAgLD9IgEAAAAAAAAAAAAAAAAAAEBNe0gAAAAAAAAAAE" +
			"BPHSEBAAAAlOZtCYA4fS8B0GFRCQAo0gISAOTgNwmC840EAAAAAAAAAAAAAAAAAAAAUJydJfjXPBIAAAAAAAAAAAAA" +
			"AABk6WwJAAAAAAAAAAAAAAAAqG8UCQAAgPpOlAAAIA83SQAANWwc9HUjGAgAAAAAAACAusaSAAAAAAAAAAAAAAAAAA" +
			"AAAAAAAAAAqHKVBACQjxklAAAAAAAAAKBHxpQAAAAAACBME0lAdlaUAACyt7sEAAAA0Nl0EgAAAAAAAAAAAABA-8wg" +
			"AQAAAAAAAKU4SgKgUtlBAgAAAAAAAAAAgMCMLwEE51kJICdzSgCJGl2CsE0tAQAA0L11JQAAAAAAAAjUOhIAAAAAAA" +
			"AAAAAAAGTqeQkAAAAAAAAAAAAAKM8SEjTrJwkAAAAAAACocqQEULgVJAAAACjDUxJUKgtKAAAAqbpRAgCA0n0mAQAA" +
			"AABAGzwmAUCTLpUAAAAAAAAAAEjZNRIAAAAAAAAAAAAAAAAAAAAA8I-vJaAlhpQAAAAAAHrvzjJ-OqCuuVlLAojP8B" +
			"JAr70sQZVDJYAgXS0BAAAAAAAAAAAAtMnyEgAAAAAAFONKCQAAAAAAAADorc0kAAAAAAAAgDqOlgAAAAAAAAAAAADI" +
			"wv0SAAAAAAAAAAAAAADBuV0CIFVDSwAAAABAAI6RAAAAAGIwrQSEZAsJAABouRclAAAAAKDDrxIAAAA0bkkJgFiMKw" +
			"EAAAAAAHQyhwRk7h4JAAAAAAAAAAAgatdKAACUYj0JAAAAAAAAAAAAQnORBLTFJRIAAAAAkIaDJAAAAJryngQAAAAA" +
			"AAAAAAA98oQEAAAAAAAAAEC2zpcgWY9LQKL2kwAgGK9IAAAAAPHaRQIAAAAAAAAAAADIxyoSAAAAAAAAAAAAAADQFo" +
			"tLAECz_gQ1PX-B",
	},
}

// refStatusDecode is a second decoder, written from the draft's pictures
// rather than from StatusList: it strips the two-byte ZLIB header and the
// Adler-32 trailer by hand and inflates the raw DEFLATE data with
// compress/flate, spells each byte as its bits least significant first (the
// draft's "Bit Position 0" on the right of each byte is read first), and
// cuts that string into entries of bits characters, each read back most
// significant bit first.
func refStatusDecode(t testing.TB, bits int, lst string) []byte {
	t.Helper()
	z, err := base64.RawURLEncoding.DecodeString(lst)
	if err != nil || len(z) < 6 || z[0]&0x0f != 8 || (int(z[0])<<8|int(z[1]))%31 != 0 {
		t.Fatalf("not a zlib stream: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z[2 : len(z)-4])))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	var s strings.Builder
	for _, b := range raw {
		for pos := 0; pos < 8; pos++ {
			s.WriteByte('0' + b>>pos&1)
		}
	}
	spelled := s.String()
	out := make([]byte, 0, len(spelled)/bits)
	for i := 0; i+bits <= len(spelled); i += bits {
		var v byte
		for k := bits - 1; k >= 0; k-- { // the entry's own bits, high to low
			v = v<<1 | (spelled[i+k] - '0')
		}
		out = append(out, v)
	}
	return out
}

func TestStatusListDraftExamples(t *testing.T) {
	cases := []struct {
		name, lst, compressedHex string
		bits                     int
		bytes                    []byte
		status                   []byte
	}{
		{"1-bit, 16 entries", "eNrbuRgAAhcBXQ", "78dadbb918000217015d", 1, []byte{0xb9, 0xa3},
			[]byte{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}},
		{"2-bit, 12 entries", "eNo76fITAAPfAgc", "78da3be9f2130003df0207", 2, []byte{0xc9, 0x44, 0xf9},
			[]byte{0b01, 0b10, 0b00, 0b11, 0b00, 0b01, 0b00, 0b01, 0b01, 0b10, 0b11, 0b11}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z, _ := base64.RawURLEncoding.DecodeString(c.lst)
			if hex.EncodeToString(z) != c.compressedHex {
				t.Fatalf("lst is %x, the draft's compressed array is %s", z, c.compressedHex)
			}
			l, err := DecodeStatusList(c.bits, c.lst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(l.Bytes(), c.bytes) || l.Len() != len(c.status) {
				t.Fatalf("byte array %x (%d entries), want %x (%d)", l.Bytes(), l.Len(), c.bytes, len(c.status))
			}
			ref := refStatusDecode(t, c.bits, c.lst)
			for i, want := range c.status {
				if got, ok := l.Get(i); !ok || got != want || ref[i] != want {
					t.Fatalf("status[%d] = %d (ok %v), second decoder %d; the draft says %d", i, got, ok, ref[i], want)
				}
			}
			if _, ok := l.Get(len(c.status)); ok {
				t.Fatal("an index past the end must not be readable")
			}
			// Building the same statuses with Set gives the draft's bytes.
			built, _ := NewStatusList(c.bits, len(c.status))
			for i, v := range c.status {
				if err := built.Set(i, v); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(built.Bytes(), c.bytes) {
				t.Fatalf("Set built %x, want %x", built.Bytes(), c.bytes)
			}
			lst, err := built.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := refStatusDecode(t, c.bits, lst); !bytes.Equal(got, c.status) {
				t.Fatalf("our encoding reads back as %v in the second decoder", got)
			}
		})
	}
}

func TestStatusListDraftTestVectors(t *testing.T) {
	for _, v := range statusDraftVectors {
		l, err := DecodeStatusList(v.bits, v.lst)
		if err != nil {
			t.Fatalf("%d-bit: %v", v.bits, err)
		}
		if l.Len() != 1<<20 {
			t.Fatalf("%d-bit: %d entries, the vectors have 2^20", v.bits, l.Len())
		}
		ref := refStatusDecode(t, v.bits, v.lst)
		if len(ref) != l.Len() {
			t.Fatalf("%d-bit: second decoder read %d entries", v.bits, len(ref))
		}
		nonZero := 0
		for i := range l.Len() {
			got, _ := l.Get(i)
			if got != ref[i] {
				t.Fatalf("%d-bit: status[%d] = %d, second decoder %d", v.bits, i, got, ref[i])
			}
			if want := v.set[i]; got != want {
				t.Fatalf("%d-bit: status[%d] = %d, the draft says %d", v.bits, i, got, want)
			}
			if got != 0 {
				nonZero++
			}
		}
		if nonZero == 0 {
			t.Fatalf("%d-bit: nothing set", v.bits)
		}
		// Our own encoding of the decoded list reads back the same.
		lst, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeStatusList(v.bits, lst)
		if err != nil || !bytes.Equal(again.Bytes(), l.Bytes()) {
			t.Fatalf("%d-bit: re-encoding does not round-trip: %v", v.bits, err)
		}
	}
}

func TestStatusListSetGet(t *testing.T) {
	for _, bits := range []int{1, 2, 4, 8} {
		l, err := NewStatusList(bits, 1000)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, l.Len())
		r := rand.New(rand.NewPCG(uint64(bits), 1))
		for range 3000 {
			i, v := r.IntN(l.Len()), byte(r.IntN(1<<bits))
			if err := l.Set(i, v); err != nil {
				t.Fatal(err)
			}
			want[i] = v
		}
		lst, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ref := refStatusDecode(t, bits, lst)
		for i := range want {
			if got, _ := l.Get(i); got != want[i] || ref[i] != want[i] {
				t.Fatalf("bits %d: status[%d] = %d, second decoder %d, want %d", bits, i, got, ref[i], want[i])
			}
		}
		if err := l.Set(0, 1<<bits); bits < 8 && err == nil {
			t.Fatalf("bits %d: a value wider than the entry was stored", bits)
		}
		if l.Set(-1, 0) == nil || l.Set(l.Len(), 0) == nil {
			t.Fatalf("bits %d: an index out of range was stored", bits)
		}
	}
	if _, err := NewStatusList(3, 8); err == nil {
		t.Fatal("bits 3 accepted")
	}
}

func zlibOf(data []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func TestDecodeStatusListRejects(t *testing.T) {
	good := zlibOf([]byte{0xb9, 0xa3})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	cases := map[string]struct {
		bits int
		lst  string
	}{
		"bits 3":                   {3, b64.EncodeToString(good)},
		"bits 0":                   {0, b64.EncodeToString(good)},
		"empty":                    {1, ""},
		"padded base64":            {1, "eNrbuRgAAhcBXQ=="},
		"standard base64 alphabet": {1, "eNrbuRgAAhcBXQ+/"},
		"raw deflate, no zlib":     {1, b64.EncodeToString(good[2 : len(good)-4])},
		"checksum wrong":           {1, b64.EncodeToString(badSum)},
		"cut short":                {1, b64.EncodeToString(good[:len(good)-2])},
		"data after the stream":    {1, b64.EncodeToString(append(bytes.Clone(good), 0))},
		"empty array":              {1, b64.EncodeToString(zlibOf(nil))},
		"inflates past the limit":  {1, b64.EncodeToString(zlibOf(make([]byte, StatusListMaxBytes+1)))},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l, err := DecodeStatusList(c.bits, c.lst)
			var se *StatusListError
			if err == nil || !errors.As(err, &se) || se.Description == "" {
				t.Fatalf("accepted (%v) or wrong error %v", l, err)
			}
		})
	}
	if _, err := DecodeStatusList(8, b64.EncodeToString(zlibOf(make([]byte, StatusListMaxBytes)))); err != nil {
		t.Fatalf("a list of exactly the limit: %v", err)
	}
}
