"""The point of interception: tasks, the frames-to-X2/X3 pipeline, the asyncio service."""

from lawful_intercept.poi.pipeline import InterceptTask, POICounters, POIPipeline

__all__ = ["InterceptTask", "POICounters", "POIPipeline"]
