from . import collection_demo_loader
from . import collection_demo_loader_history
from . import collection_demo_loader_commitments
