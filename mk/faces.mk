# Generated faces (issue 14): identity = sensitive, smiling = primary, 2 sessions per person.
#   make faces-data    runs/data/faces: 30 people x 2 sessions x 8 grayscale 32x32 faces (FACES_DATA)
#   make faces-demo    faces-data, then train + export recipes/faces.toml, then attack the bundle's int8
#                      device.tflite (identity attackers, session pooling, conv decoder on other people)
#   make faces-defended  faces-demo's run, then `defend --max-attacker` (chance + 10 points, no recipe:
#                      the search picks the defence), export the chosen run, privacy against the undefended
FACES_DATA   ?= runs/data/faces
FACES_RECIPE ?= recipes/faces.toml
FACES_RUN    ?= runs/faces
FACES_BUNDLE ?= bundles/faces
FACES_DEFENDED_RUN    ?= runs/faces_defended
FACES_DEFENDED_BUNDLE ?= bundles/faces_defended
# the issue's bar: identity <= chance (1/30) + 10 points
FACES_MAX_ATTACKER ?= 0.1333

.PHONY: faces-data faces-demo faces-defended

$(FACES_DATA)/attributes.csv: | $(STAMP)
	$(PY) -c "from hybridsplit.data.faces import make_faces; make_faces('$(FACES_DATA)')"

faces-data: $(FACES_DATA)/attributes.csv  ## generated grayscale faces for recipes/faces.toml

faces-demo: $(STAMP) faces-data  ## train + export the faces recipe, then privacy on its int8 device.tflite
	$(HS) train --recipe $(FACES_RECIPE) --out $(FACES_RUN) --quiet
	$(HS) export --run $(FACES_RUN) --out $(FACES_BUNDLE)
	$(HS) privacy --bundle $(FACES_BUNDLE) --sweep '' --session 1,session --linkage session

$(FACES_RUN)/checkpoint.pt: $(FACES_DATA)/attributes.csv $(FACES_RECIPE) | $(STAMP)
	$(HS) train --recipe $(FACES_RECIPE) --out $(FACES_RUN) --quiet

faces-defended: $(STAMP) faces-data $(FACES_RUN)/checkpoint.pt  ## defence search on the faces run, chosen run exported + attacked
	@test -f $(FACES_BUNDLE)/manifest.json || $(HS) export --run $(FACES_RUN) --out $(FACES_BUNDLE)
	$(HS) defend --run $(FACES_RUN) --out $(FACES_DEFENDED_RUN) --max-attacker $(FACES_MAX_ATTACKER) --quiet
	$(HS) export --run $(FACES_DEFENDED_RUN) --out $(FACES_DEFENDED_BUNDLE)
	$(HS) privacy --bundle $(FACES_DEFENDED_BUNDLE) --baseline $(FACES_BUNDLE) --sweep '' --session 1,session --linkage session
