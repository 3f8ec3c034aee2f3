# Privacy (issue 3): Siamese / adversarial fine-tuning, PCA and run-time noise; attacks on the int8 artifact.
#   make privacy     undefended ($(RUN)) + paper's Siamese + stronger defence -> export all three ->
#                    attacks on each bundle's int8 device.tflite in one run -> side-by-side table,
#                    $(PRIV_BUNDLE)/privacy.json and $(PRIV_BUNDLE)/privacy_curve.png
#   make defend      only the defended run + bundle
PRIV_RECIPE  ?= recipes/watch_defended.toml
PRIV_RUN     ?= runs/defended
PRIV_BUNDLE  ?= bundles/defended
SIAMESE_RUN  ?= runs/siamese
SIAMESE_BUNDLE ?= bundles/siamese
# The paper's Siamese alone (+ the same PCA and noise): the adversarial term switched off.
SIAMESE_SET  ?= --set defence.adversarial.weight=0 --set defence.siamese.weight=0.1
PRIVACY_ARGS ?=

.PHONY: privacy defend privacy-bundles

$(PRIV_RUN)/checkpoint.pt: $(RUN)/checkpoint.pt $(PRIV_RECIPE) | $(STAMP)
	$(HS) defend --run $(RUN) --recipe $(PRIV_RECIPE) --out $(PRIV_RUN)

$(SIAMESE_RUN)/checkpoint.pt: $(RUN)/checkpoint.pt $(PRIV_RECIPE) | $(STAMP)
	$(HS) defend --run $(RUN) --recipe $(PRIV_RECIPE) $(SIAMESE_SET) --out $(SIAMESE_RUN)

$(PRIV_BUNDLE)/manifest.json: $(PRIV_RUN)/checkpoint.pt
	$(HS) export --run $(PRIV_RUN) --out $(PRIV_BUNDLE)

$(SIAMESE_BUNDLE)/manifest.json: $(SIAMESE_RUN)/checkpoint.pt
	$(HS) export --run $(SIAMESE_RUN) --out $(SIAMESE_BUNDLE)

privacy-bundles: $(STAMP) $(RUN)/checkpoint.pt $(PRIV_BUNDLE)/manifest.json $(SIAMESE_BUNDLE)/manifest.json
	@test -f $(BUNDLE)/manifest.json || $(HS) export --run $(RUN) --out $(BUNDLE)

defend: $(STAMP) $(PRIV_BUNDLE)/manifest.json  ## fine-tune + export the defended model of $(PRIV_RECIPE)

privacy: privacy-bundles  ## undefended vs Siamese vs defended, attacked on the int8 device.tflite -> privacy.json + curve
	$(HS) privacy --bundle $(PRIV_BUNDLE) --baseline $(BUNDLE) --compare siamese=$(SIAMESE_BUNDLE) $(PRIVACY_ARGS)

# The session defence (issue 14): a subject head that sees means of 20 windows of one recording, 32 epochs.
SESSION_RECIPE ?= recipes/watch_session_defended.toml
SESSION_RUN    ?= runs/session_defended
SESSION_BUNDLE ?= bundles/session_defended

.PHONY: privacy-session

$(SESSION_RUN)/checkpoint.pt: $(RUN)/checkpoint.pt $(SESSION_RECIPE) | $(STAMP)
	$(HS) defend --run $(RUN) --recipe $(SESSION_RECIPE) --out $(SESSION_RUN)

$(SESSION_BUNDLE)/manifest.json: $(SESSION_RUN)/checkpoint.pt
	$(HS) export --run $(SESSION_RUN) --out $(SESSION_BUNDLE)

privacy-session: $(STAMP) $(RUN)/checkpoint.pt $(SESSION_BUNDLE)/manifest.json  ## session-defended vs undefended: per window, k pooled windows, linkage
	@test -f $(BUNDLE)/manifest.json || $(HS) export --run $(RUN) --out $(BUNDLE)
	$(HS) privacy --bundle $(SESSION_BUNDLE) --baseline $(BUNDLE) --session 1,5,20,session --linkage session --sweep '' $(PRIVACY_ARGS)
