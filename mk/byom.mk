# Bring your own model (issue 8): split torchvision / timm / python: models at a named node.
#   make byom-cuts [BYOM_MODEL=timm:resnet18 BYOM_SHAPE=3,64,64]   list the valid cuts
#   make byom-demo     generated images -> train + export recipes/byom_tiny_resnet.toml (python: skip-connection model)
#   make byom-matrix   3 models x 3 cuts: device∘cloud, TFLite fp32/int8 parity -> benchmarks/results/byom.json
BYOM_MODEL ?= torchvision:mobilenet_v3_small
BYOM_SHAPE ?= 3,64,64
BYOM_RECIPE ?= recipes/byom_tiny_resnet.toml
BYOM_DATA ?= runs/data/byom_images

.PHONY: byom-cuts byom-data byom-demo byom-matrix

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
