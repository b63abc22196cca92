package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemoRunsEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts a server and runs ten steps; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, &out); err != nil {
		t.Fatalf("demo failed: %v\noutput:\n%s", err, out.String())
	}
	for _, want := range []string{"[1/10] 参保查询", "[10/10] 总对账", "全部 10 步均符合预期", "对账平"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "失败") {
		t.Errorf("output reports a failure:\n%s", out.String())
	}
}
