// Package frames checks the C Arrow writer with the Grafana SDK's own decoder.
//
// tools/frame_gen (built by `make build` into build/, or $GPX_BUILD_DIR)
// writes Arrow IPC files; every file is decoded with data.UnmarshalArrowFrame
// — the code path Grafana itself runs on DataResponse.frames — and compared
// value by value with an expectation that never comes from the Arrow bytes:
// hand-written JSON under tests/golden/frames/ for the small golden cases,
// formulas recomputed here for split3/big_1m, and the generator's own record
// of the values it appended for the seeded random cases.
package frames

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

var genDir string // frame_gen output for this run

func frameGen() string {
	b := os.Getenv("GPX_BUILD_DIR")
	if b == "" {
		b = filepath.Join("..", "..", "build")
	}
	return filepath.Join(b, "frame_gen")
}

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "gpx-frames-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	genDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(frameGen(), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s (build it with `make build` or set GPX_BUILD_DIR)", frameGen(), args, err, out)
	}
}

func decode(t *testing.T, path string) (*data.Frame, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := data.UnmarshalArrowFrame(b)
	if err != nil {
		t.Fatalf("%s: SDK decoder rejected the frame: %v", filepath.Base(path), err)
	}
	return f, b
}

// ---- expected descriptions ----------------------------------------------------

type expField struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Nullable bool              `json:"nullable"`
	Labels   map[string]string `json:"labels"`
	Config   json.RawMessage   `json:"config"`
	Values   []json.RawMessage `json:"values"`
}

type expFrame struct {
	Name   string          `json:"name"`
	RefID  string          `json:"refId"`
	Meta   json.RawMessage `json:"meta"`
	Fields []expField      `json:"fields"`
}

var sdkType = map[string][2]data.FieldType{
	"time":    {data.FieldTypeTime, data.FieldTypeNullableTime},
	"float64": {data.FieldTypeFloat64, data.FieldTypeNullableFloat64},
	"int64":   {data.FieldTypeInt64, data.FieldTypeNullableInt64},
	"string":  {data.FieldTypeString, data.FieldTypeNullableString},
	"bool":    {data.FieldTypeBool, data.FieldTypeNullableBool},
	"json":    {data.FieldTypeJSON, data.FieldTypeNullableJSON},
}

// deref returns (value, isNull) for a value from Field.At.
func deref(v any) (any, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, true
		}
		return rv.Elem().Interface(), false
	}
	return v, false
}

func checkValue(typ string, raw json.RawMessage, got any) error {
	g, isNull := deref(got)
	if string(raw) == "null" {
		if !isNull {
			return fmt.Errorf("want null, got %v", g)
		}
		return nil
	}
	if isNull {
		return fmt.Errorf("want %s, got null", raw)
	}
	switch typ {
	case "time", "int64":
		want, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("bad expectation %s: %v", raw, err)
		}
		var have int64
		if typ == "time" {
			have = g.(time.Time).UnixNano()
		} else {
			have = g.(int64)
		}
		if have != want {
			return fmt.Errorf("want %d, got %d", want, have)
		}
	case "float64":
		want, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return fmt.Errorf("bad expectation %s: %v", raw, err)
		}
		if math.Float64bits(g.(float64)) != math.Float64bits(want) {
			return fmt.Errorf("want %v, got %v", want, g)
		}
	case "string":
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			return err
		}
		if g.(string) != want {
			return fmt.Errorf("want %q, got %q", want, g)
		}
	case "bool":
		var want bool
		if err := json.Unmarshal(raw, &want); err != nil {
			return err
		}
		if g.(bool) != want {
			return fmt.Errorf("want %v, got %v", want, g)
		}
	case "json":
		var want string // the JSON text, as a JSON string
		if err := json.Unmarshal(raw, &want); err != nil {
			return err
		}
		if !bytes.Equal(g.(json.RawMessage), []byte(want)) {
			return fmt.Errorf("want %s, got %s", want, g)
		}
	default:
		return fmt.Errorf("unknown type %q", typ)
	}
	return nil
}

func compare(t *testing.T, exp *expFrame, f *data.Frame) {
	t.Helper()
	if f.Name != exp.Name || f.RefID != exp.RefID {
		t.Errorf("name/refId: got %q/%q want %q/%q", f.Name, f.RefID, exp.Name, exp.RefID)
	}
	if len(exp.Meta) > 0 {
		var want data.FrameMeta
		if err := json.Unmarshal(exp.Meta, &want); err != nil {
			t.Fatalf("bad expected meta: %v", err)
		}
		if !reflect.DeepEqual(f.Meta, &want) {
			gj, _ := json.Marshal(f.Meta)
			t.Errorf("meta: got %s want %s", gj, exp.Meta)
		}
	} else if f.Meta != nil {
		gj, _ := json.Marshal(f.Meta)
		t.Errorf("meta: got %s, want none", gj)
	}
	if len(f.Fields) != len(exp.Fields) {
		t.Fatalf("fields: got %d want %d", len(f.Fields), len(exp.Fields))
	}
	for i, ef := range exp.Fields {
		g := f.Fields[i]
		if g.Name != ef.Name {
			t.Errorf("field %d name: got %q want %q", i, g.Name, ef.Name)
		}
		types, ok := sdkType[ef.Type]
		if !ok {
			t.Fatalf("field %d: unknown expected type %q", i, ef.Type)
		}
		wantType := types[0]
		if ef.Nullable {
			wantType = types[1]
		}
		if g.Type() != wantType {
			t.Errorf("field %d (%s) type: got %s want %s", i, ef.Name, g.Type(), wantType)
			continue
		}
		if len(ef.Labels) != len(g.Labels) || (len(ef.Labels) > 0 && !reflect.DeepEqual(map[string]string(g.Labels), ef.Labels)) {
			t.Errorf("field %d (%s) labels: got %v want %v", i, ef.Name, g.Labels, ef.Labels)
		}
		if len(ef.Config) > 0 {
			var want data.FieldConfig
			if err := json.Unmarshal(ef.Config, &want); err != nil {
				t.Fatalf("bad expected config: %v", err)
			}
			if !reflect.DeepEqual(g.Config, &want) {
				gj, _ := json.Marshal(g.Config)
				t.Errorf("field %d config: got %s want %s", i, gj, ef.Config)
			}
		} else if g.Config != nil {
			gj, _ := json.Marshal(g.Config)
			t.Errorf("field %d config: got %s, want none", i, gj)
		}
		if g.Len() != len(ef.Values) {
			t.Errorf("field %d (%s) rows: got %d want %d", i, ef.Name, g.Len(), len(ef.Values))
			continue
		}
		bad := 0
		for r, raw := range ef.Values {
			if err := checkValue(ef.Type, raw, g.At(r)); err != nil {
				if bad++; bad <= 5 {
					t.Errorf("field %d (%s) row %d: %v", i, ef.Name, r, err)
				}
			}
		}
		if bad > 5 {
			t.Errorf("field %d: %d wrong values in all", i, bad)
		}
	}
}

func loadExpected(t *testing.T, path string) *expFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e expFrame
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &e
}

// ---- golden cases ----------------------------------------------------------

var goldenOnce = map[string]bool{}

func golden(t *testing.T) string {
	t.Helper()
	d := filepath.Join(genDir, "golden")
	if !goldenOnce[d] {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "golden", d)
		goldenOnce[d] = true
	}
	return d
}

func TestGolden(t *testing.T) {
	d := golden(t)
	exps, err := filepath.Glob(filepath.Join("..", "golden", "frames", "*.json"))
	if err != nil || len(exps) < 8 {
		t.Fatalf("expected at least 8 golden descriptions, found %d (%v)", len(exps), err)
	}
	for _, e := range exps {
		name := filepath.Base(e[:len(e)-len(".json")])
		t.Run(name, func(t *testing.T) {
			f, _ := decode(t, filepath.Join(d, name+".arrow"))
			compare(t, loadExpected(t, e), f)
		})
	}
}

func batches(t *testing.T, b []byte) int {
	t.Helper()
	r, err := ipc.NewFileReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.NumRecords()
}

const t0 = int64(1700000000000000000)

// split3: 20,000 rows in exactly 3 record batches (formulas in gpx/frame.h).
func TestGoldenSplit3(t *testing.T) {
	f, b := decode(t, filepath.Join(golden(t), "split3.arrow"))
	if n := batches(t, b); n != 3 {
		t.Fatalf("record batches: got %d want 3", n)
	}
	if f.Rows() != 20000 || len(f.Fields) != 4 {
		t.Fatalf("shape: %d rows, %d fields", f.Rows(), len(f.Fields))
	}
	if f.Fields[1].Type() != data.FieldTypeNullableFloat64 || f.Fields[2].Type() != data.FieldTypeString {
		t.Fatalf("types: %s %s", f.Fields[1].Type(), f.Fields[2].Type())
	}
	for i := 0; i < 20000; i++ {
		if got := f.Fields[0].At(i).(time.Time).UnixNano(); got != t0+int64(i)*1e9 {
			t.Fatalf("time[%d] = %d", i, got)
		}
		v := f.Fields[1].At(i).(*float64)
		if (i%5 == 0) != (v == nil) || (v != nil && *v != float64(i)/8) {
			t.Fatalf("value[%d] = %v", i, v)
		}
		if s := f.Fields[2].At(i).(string); s != fmt.Sprintf("row-%05d", i) {
			t.Fatalf("row[%d] = %q", i, s)
		}
		if bv := f.Fields[3].At(i).(bool); bv != (i%3 == 0) {
			t.Fatalf("flag[%d] = %v", i, bv)
		}
	}
}

func TestGoldenBig1M(t *testing.T) {
	f, _ := decode(t, filepath.Join(golden(t), "big_1m.arrow"))
	const n = 1000000
	if f.Rows() != n || len(f.Fields) != 3 {
		t.Fatalf("shape: %d rows, %d fields", f.Rows(), len(f.Fields))
	}
	if f.Fields[0].Type() != data.FieldTypeTime || f.Fields[1].Type() != data.FieldTypeNullableFloat64 ||
		f.Fields[2].Type() != data.FieldTypeInt64 {
		t.Fatalf("types: %s %s %s", f.Fields[0].Type(), f.Fields[1].Type(), f.Fields[2].Type())
	}
	for i := 0; i < n; i++ {
		if got := f.Fields[0].At(i).(time.Time).UnixNano(); got != t0+int64(i)*1e9 {
			t.Fatalf("time[%d] = %d", i, got)
		}
		v := f.Fields[1].At(i).(*float64)
		if (i%97 == 0) != (v == nil) || (v != nil && *v != float64(i%1000)*0.25-100) {
			t.Fatalf("value[%d] = %v", i, v)
		}
		if k := f.Fields[2].At(i).(int64); k != int64(i)*int64(i)-500000000000 {
			t.Fatalf("count[%d] = %d", i, k)
		}
	}
}

// ---- property test ---------------------------------------------------------

func TestRandomFrames(t *testing.T) {
	n := 2000
	if s := os.Getenv("GPX_FRAME_CASES"); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			n = v
		}
	}
	seed0 := uint64(1)
	if s := os.Getenv("GPX_FRAME_SEED"); s != "" {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			seed0 = v
		}
	}
	d := filepath.Join(genDir, "random")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "random", strconv.FormatUint(seed0, 10), strconv.Itoa(n), d)
	multi := 0
	for i := 0; i < n; i++ {
		s := seed0 + uint64(i)
		base := filepath.Join(d, fmt.Sprintf("rand-%d", s))
		ok := t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			f, b := decode(t, base+".arrow")
			compare(t, loadExpected(t, base+".json"), f)
			if batches(t, b) > 1 {
				multi++
			}
		})
		if !ok {
			t.Logf("reproduce: %s case random %d out.arrow", frameGen(), s)
		}
	}
	t.Logf("%d random frames checked, %d of them with several record batches", n, multi)
	if n >= 100 && multi == 0 {
		t.Errorf("no random frame exercised batch splitting")
	}
}
