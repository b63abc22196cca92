package service

import "time"

// testNow is 2026-12-04 18:15:30 in Asia/Shanghai.
var testNow = time.Date(2026, 12, 4, 10, 15, 30, 0, time.UTC)
