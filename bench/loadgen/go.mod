module webhookbench/loadgen

go 1.22
