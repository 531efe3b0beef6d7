module github.com/fintoro/webhookurl/benchmarks

go 1.26.0

require (
	code.dny.dev/ssrf v0.3.0
	github.com/doyensec/safeurl v0.2.2
	github.com/fintoro/webhookurl v0.0.0
)

require (
	github.com/miekg/dns v1.1.73 // indirect
	golang.org/x/net v0.63.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/fintoro/webhookurl => ../
