import './base.css';
import './catalog.css';
import './models.css';
import './pipelines.css';
import './search.css';
