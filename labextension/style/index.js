import './base.css';
import './catalog.css';
import './lineage.css';
import './models.css';
import './pipelines.css';
import './reports.css';
import './search.css';
