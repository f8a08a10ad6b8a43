"""Writers of the small, seeded data sets the project trains downstream models on (no downloads):
COCO-format detection (``coco_detection``), COCO keypoints (``coco_keypoints``) and motion-only
video classification (``motion_video``). Import the module you need; each writes real files that
the upstream loaders read."""
