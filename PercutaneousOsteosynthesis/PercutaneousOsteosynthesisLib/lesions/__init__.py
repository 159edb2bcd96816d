"""lesions"""
