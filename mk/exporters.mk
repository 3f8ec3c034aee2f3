# Exporters (issue 4): Core ML, every TFLite mode, the onnx2tf route, export_report.json.
#   make export-coreml     bundles/default + device.mlpackage (fp16) + device_int8w.mlpackage (int8 weights)
#   make export-onnx2tf    bundles/onnx2tf: device.tflite through ONNX -> onnx2tf (channels-last, see manifest)
#   make export-all        bundles/all: every format x mode x converter, prints + saves export_report.json
#   make export-images     tiny vgg_small / mobilenet_small on generated images, each exported --format all
EXPORT_IMAGES ?= runs/data/export_images
IMAGE_SET = --recipe $(RECIPE) --set data.dataset=image_folder --set data.path=$(EXPORT_IMAGES) \
	--set data.protocol=random --set data.image_size=32 --set train.epochs=4 --set train.batch_size=32 \
	--set export.calibration_samples=128 --set export.max_int8_drop=10

.PHONY: export-coreml export-onnx2tf export-all export-images

export-coreml: $(STAMP) $(RUN)/checkpoint.pt  ## bundles/default with the Core ML packages added
	$(HS) export --run $(RUN) --out $(BUNDLE) --format coreml
	$(HS) verify --bundle $(BUNDLE)

export-onnx2tf: $(STAMP) $(RUN)/checkpoint.pt  ## the second TFLite route (ONNX -> onnx2tf)
	$(HS) export --run $(RUN) --out bundles/onnx2tf --converter onnx2tf
	$(HS) verify --bundle bundles/onnx2tf

export-all: $(STAMP) $(RUN)/checkpoint.pt  ## every format x mode x converter -> bundles/all/export_report.json
	$(HS) export --run $(RUN) --out bundles/all --format all
	$(HS) verify --bundle bundles/all

$(EXPORT_IMAGES)/attributes.csv: | $(STAMP)
	$(PY) -c "from hybridsplit.data.synthetic import make_image_folder; make_image_folder('$(EXPORT_IMAGES)', n=200, size=32)"

export-images: $(STAMP) $(EXPORT_IMAGES)/attributes.csv  ## image backbones: train tiny, export --format all
	$(HS) train -q $(IMAGE_SET) --set model.backbone=vgg_small --set model.cut=block4 --out runs/export_vgg_small
	$(HS) export --run runs/export_vgg_small --out bundles/vgg_small_all --format all
	$(HS) train -q $(IMAGE_SET) --set model.backbone=mobilenet_small --set model.cut=ir4 --out runs/export_mobilenet_small
	$(HS) export --run runs/export_mobilenet_small --out bundles/mobilenet_small_all --format all
