module github.com/fintoro/webhookurl

go 1.24.0
