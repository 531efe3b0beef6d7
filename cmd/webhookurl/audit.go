package main

import (
	"context"
	"fmt"
	"io"
)

func runAudit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	fmt.Fprintln(stderr, "webhookurl audit: not implemented yet")
	return exitUsage
}
