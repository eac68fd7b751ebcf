package webhook

import "net/http"

// PublicClient is the client deliveries to endpoints that are not internal go through.
func (w *Worker) PublicClient() *http.Client { return w.public }
