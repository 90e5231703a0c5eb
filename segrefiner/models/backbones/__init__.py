from .ddpm_feature_extractor import DDPMFeatureExtractor

__all__ = ['DDPMFeatureExtractor']
