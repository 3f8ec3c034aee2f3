# Bring your own model (issue 8): split torchvision / timm / python: models at a named node.
#   make byom-cuts [BYOM_MODEL=timm:resnet18 BYOM_SHAPE=3,64,64]   list the valid cuts
#   make byom-demo     generated images -> train + export recipes/byom_tiny_resnet.toml (python: skip-connection model)
#   make byom-matrix   3 models x 3 cuts: device∘cloud, TFLite fp32/int8 parity -> benchmarks/results/byom.json
#   make byom-pipeline torchvision:mobilenet_v3_small through train, defend (PCA), export, bench, sweep, privacy,
#                      report -> runs/byom_pipeline/ (BYOM_PIPE_OUT); every step through the CLI
BYOM_MODEL ?= torchvision:mobilenet_v3_small
BYOM_SHAPE ?= 3,64,64
BYOM_RECIPE ?= recipes/byom_tiny_resnet.toml
BYOM_DATA ?= runs/data/byom_images

BYOM_PIPE_RECIPE ?= recipes/byom_pipeline.toml
BYOM_PIPE_OUT ?= runs/byom_pipeline
BYOM_PIPE_RUNS ?= 100

.PHONY: byom-cuts byom-data byom-demo byom-matrix byom-pipeline

byom-cuts: $(STAMP)  ## valid cut points of $(BYOM_MODEL) for input $(BYOM_SHAPE)
	$(HS) cuts --model $(BYOM_MODEL) --input-shape $(BYOM_SHAPE)

$(BYOM_DATA)/attributes.csv: | $(STAMP)
	$(PY) -c "from hybridsplit.data.synthetic import make_image_folder; make_image_folder('$(BYOM_DATA)', n=240, size=64)"

byom-data: $(BYOM_DATA)/attributes.csv  ## generated image folder for the BYOM recipes

byom-demo: $(STAMP) byom-data  ## train + export the python: skip-connection model recipe
	$(HS) train --recipe $(BYOM_RECIPE) --out runs/byom
	$(HS) export --run runs/byom --out bundles/byom
	$(HS) verify --bundle bundles/byom

byom-matrix: $(STAMP)  ## device∘cloud + TFLite fp32/int8 parity for 3 cuts of each BYOM model
	$(PY) benchmarks/byom_matrix.py --out benchmarks/results/byom.json

byom-pipeline: $(STAMP) byom-data  ## whole pipeline on torchvision:mobilenet_v3_small -> $(BYOM_PIPE_OUT)/{bundle,sweep}
	$(HS) train --recipe $(BYOM_PIPE_RECIPE) --out $(BYOM_PIPE_OUT)/run --quiet
	$(HS) defend --run $(BYOM_PIPE_OUT)/run --recipe $(BYOM_PIPE_RECIPE) --out $(BYOM_PIPE_OUT)/defended --quiet
	$(HS) export --run $(BYOM_PIPE_OUT)/run --out $(BYOM_PIPE_OUT)/baseline
	$(HS) export --run $(BYOM_PIPE_OUT)/defended --out $(BYOM_PIPE_OUT)/bundle
	$(HS) bench --bundle $(BYOM_PIPE_OUT)/bundle --run $(BYOM_PIPE_OUT)/defended --runs $(BYOM_PIPE_RUNS)
	$(HS) sweep --recipe $(BYOM_PIPE_RECIPE) --run $(BYOM_PIPE_OUT)/run --out $(BYOM_PIPE_OUT)/sweep --cuts-n 4 --runs $(BYOM_PIPE_RUNS)
	$(HS) privacy --bundle $(BYOM_PIPE_OUT)/bundle --baseline $(BYOM_PIPE_OUT)/baseline --attacks logreg,knn --sweep 0,0.5,1,2 --recon-epochs 3
	$(HS) report --bundle $(BYOM_PIPE_OUT)/bundle --sweep $(BYOM_PIPE_OUT)/sweep/sweep.json
