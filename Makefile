# `sam build` runs `make build-<LogicalId>` here, once per function (template.yaml: BuildMethod
# makefile, WorkingDirectory .), with ARTIFACTS_DIR set to that function's artifact directory.
# Every target runs the same one cargo lambda build of all eight functions: the first compiles
# the workspace once (one dependency tree, one target directory), the others find it fresh in
# a second or two, and each copies its own bootstrap. cargo lambda cross-compiles with zig for
# arm64 (pip install cargo-lambda); CARGO_TARGET_DIR is honoured.

FUNCTIONS := webhook ingest api sender scheduler reminders events email
CARGO_LAMBDA ?= cargo lambda
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LAMBDA_DIR := $(TARGET_DIR)/lambda

.PHONY: lambdas $(foreach f,Webhook Ingest Api Sender Scheduler Reminders Events Email,build-$(f)Function)

# The eight bootstraps in $(LAMBDA_DIR)/<function>/bootstrap; also usable without sam.
lambdas:
	$(CARGO_LAMBDA) build --release --arm64 --lambda-dir $(LAMBDA_DIR) $(addprefix --package ,$(FUNCTIONS))

build-WebhookFunction: lambdas
	cp $(LAMBDA_DIR)/webhook/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-IngestFunction: lambdas
	cp $(LAMBDA_DIR)/ingest/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-ApiFunction: lambdas
	cp $(LAMBDA_DIR)/api/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-SenderFunction: lambdas
	cp $(LAMBDA_DIR)/sender/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-SchedulerFunction: lambdas
	cp $(LAMBDA_DIR)/scheduler/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-RemindersFunction: lambdas
	cp $(LAMBDA_DIR)/reminders/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-EventsFunction: lambdas
	cp $(LAMBDA_DIR)/events/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-EmailFunction: lambdas
	cp $(LAMBDA_DIR)/email/bootstrap $(ARTIFACTS_DIR)/bootstrap
