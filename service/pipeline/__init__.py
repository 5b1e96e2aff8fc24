"""Video → keypoints → scores. Pure computation: no HTTP, no queue."""
