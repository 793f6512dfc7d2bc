package harness

import (
	_ "github.com/grafana/grafana-plugin-sdk-go/backend"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	_ "github.com/grafana/grafana-plugin-sdk-go/data"
	_ "github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/prometheus/common/expfmt"
)
