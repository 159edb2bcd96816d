"""screws"""
