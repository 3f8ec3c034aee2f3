# Generated faces (issue 14): identity = sensitive, smiling = primary, 2 sessions per person.
#   make faces-data    runs/data/faces: 30 people x 2 sessions x 8 grayscale 32x32 faces (FACES_DATA)
#   make faces-demo    faces-data, then train + export recipes/faces.toml, then attack the bundle's int8
#                      device.tflite (identity attackers, session pooling, conv decoder on other people)
FACES_DATA   ?= runs/data/faces
FACES_RECIPE ?= recipes/faces.toml
FACES_RUN    ?= runs/faces
FACES_BUNDLE ?= bundles/faces

.PHONY: faces-data faces-demo

$(FACES_DATA)/attributes.csv: | $(STAMP)
	$(PY) -c "from hybridsplit.data.faces import make_faces; make_faces('$(FACES_DATA)')"

faces-data: $(FACES_DATA)/attributes.csv  ## generated grayscale faces for recipes/faces.toml

faces-demo: $(STAMP) faces-data  ## train + export the faces recipe, then privacy on its int8 device.tflite
	$(HS) train --recipe $(FACES_RECIPE) --out $(FACES_RUN) --quiet
	$(HS) export --run $(FACES_RUN) --out $(FACES_BUNDLE)
	$(HS) privacy --bundle $(FACES_BUNDLE) --sweep '' --session 1,session --linkage session
